// A read pin orders only the reads of the thread that took it: it cannot be sent.
use weakling::read_pin;

fn main() {
    let pin = read_pin();
    std::thread::spawn(move || drop(pin)).join().unwrap();
}
