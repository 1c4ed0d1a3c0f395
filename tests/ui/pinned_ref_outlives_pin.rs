// A value borrowed under a read pin cannot outlive the pin.
use weakling::{read_pin, Gc};

fn main() {
    let obj = Gc::new_leaf(1_u32);
    let weak = Gc::downgrade(&obj);
    let borrowed = {
        let pin = read_pin();
        weak.get_pinned(&pin)
    };
    drop(obj);
    let _ = borrowed.map(|v| *v);
}
