fn main() {
    println!("bgpd: under construction");
}
