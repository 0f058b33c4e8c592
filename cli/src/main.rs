//! `dmslake`: the operator CLI.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "dmslake", version, about = "Operate a dmslake CDC data lake")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the dmslake configuration read from the environment, as JSON.
    Config,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Config => {
            let cfg = dmslake::config::Config::from_env()?;
            println!("{cfg:?}");
        }
    }
    Ok(())
}
