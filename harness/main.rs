fn main() {
    std::process::exit(sockspec::cli::main());
}
