//! `plog`: verify, inspect, repair and append engenho-store persistent logs.
//!
//! See `plog --help` and the README for every subcommand and exit status.

mod append;
mod dump;
mod error;
pub mod exit;
mod man;
mod mode;
mod model;
mod out;
mod paths;
mod progress;
mod raft;
#[cfg(feature = "remote")]
mod remote;
mod repair;
mod stat;
mod text;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

const AFTER_HELP: &str = "\
Exit status (every subcommand):
  0  every file is clean / the command did what was asked (or dump's
     reader closed the pipe)
  1  corruption found (with --strict, a torn tail counts as corruption;
     for dump: any record whose hash fails, printed or skipped)
  2  a file could not be read or written, no file matched, bad input or
     bad usage
  3  no corruption, but some file ends in a torn tail
When several apply, the first in the order 1, 2, 3, 0 wins.

Examples:
  plog verify --json /var/lib/engenho/     every *.plog below, one JSON line each
  plog dump --from 100 --limit 10 raft.plog
  plog stat raft.plog
  plog repair --dry-run raft.plog
  echo '{\"op\":\"put\"}' | plog append raft.plog
  plog completions bash > /etc/bash_completion.d/plog";

const VERIFY_EXAMPLES: &str = "\
Examples:
  plog verify raft.plog                     one line per file and a summary
  plog verify --json -q /var/lib/engenho/   JSON for the files that are not clean
  plog verify --all --expect contiguous dir/
  cat raft.plog | plog verify -             standard input
  plog verify --json s3://backups/node-1/   every *.plog object below (feature `remote`)
  plog verify gs://backups/node-1/raft.plog az://backups/node-1/   GCS, Azure Blob
  plog verify /var/lib/engenho/raft/        a plog-raft directory: one log";

const DUMP_EXAMPLES: &str = "\
Examples:
  plog dump raft.plog | less                text, control bytes escaped
  plog dump --json --from 100 --to 199 raft.plog | jq .payload
  plog dump --headers --no-verify damaged.plog
  plog dump --follow --json raft.plog       like tail -f
  plog dump --raft --json /var/lib/engenho/raft/   a plog-raft directory's entries";

const STAT_EXAMPLES: &str = "\
Examples:
  plog stat raft.plog
  plog stat --json raft.plog | jq .missing_ranges";

const REPAIR_EXAMPLES: &str = "\
Examples:
  plog repair --dry-run raft.plog           what would be done; changes nothing
  plog repair --backup cut.bin raft.plog    cut a torn tail, saving the cut bytes
  plog repair --salvage good.plog --json damaged.plog";

const APPEND_EXAMPLES: &str = "\
Examples:
  printf '{\"a\":1}\\n{\"a\":2}\\n' | plog append raft.plog
  plog append --index 1000 --sync-every 100 --json raft.plog < entries.jsonl";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  plog completions bash > ~/.local/share/bash-completion/completions/plog
  plog completions zsh > ~/.zfunc/_plog
  plog completions fish > ~/.config/fish/completions/plog.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  plog man > plog.1 && man ./plog.1
  plog man verify | man -l -                verify's page, every flag
  plog man --dir /usr/local/share/man/man1  plog.1 and plog-SUBCOMMAND.1";

/// Verify, inspect, repair and append engenho-store persistent logs (format v1).
#[derive(Debug, Parser)]
#[command(name = "plog", version, about, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify logs: structure, every BLAKE3 hash, optionally index order.
    ///
    /// PATHs are files, directories (the files below whose name matches
    /// --glob, default *.plog, in sorted order) or `-` (standard input).
    /// Files are verified in parallel with each other and within each file.
    /// A plog-raft directory (named, or found below a named directory: it
    /// holds plog-raft's LOCK file, or its state.plog beside a segment
    /// <20-digit index>.plog) is checked as one Raft log, one line (or one
    /// JSON object with "log": "plog-raft"); the files in it are not
    /// verified one by one unless named.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(verify::VerifyArgs),
    /// Print the records of a log in file order.
    ///
    /// Exit status 1 whenever a record failed its hash, whether it was
    /// skipped or (--no-verify) printed. Records outside --from/--to are
    /// walked over by their headers only, never hashed or printed.
    #[command(after_help = DUMP_EXAMPLES)]
    Dump(dump::DumpArgs),
    /// Statistics of a log: records, index range, gaps and repeats, payload sizes.
    #[command(after_help = STAT_EXAMPLES)]
    Stat(stat::StatArgs),
    /// Repair a log: cut a torn tail (or a final write a crash cut over
    /// preallocated zeros), or salvage the valid records into a new log.
    #[command(after_help = REPAIR_EXAMPLES)]
    Repair(repair::RepairArgs),
    /// Append JSON Lines from stdin, one record per line, durably.
    #[command(after_help = APPEND_EXAMPLES)]
    Append(append::AppendArgs),
    /// Print a shell completion script for plog on stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print plog's manual page (roff) on stdout, or a subcommand's, or
    /// write them all to a directory.
    #[command(after_help = MAN_EXAMPLES)]
    Man(man::ManArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version print to stdout and exit 0; usage errors exit 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            });
        }
    };
    let json_paths = json_paths(&cli.command);
    use clap::CommandFactory;
    let result = match cli.command {
        Command::Verify(args) => verify::run(args),
        Command::Dump(args) => dump::run(args),
        Command::Stat(args) => stat::run(args),
        Command::Repair(args) => repair::run(args),
        Command::Append(args) => append::run(args),
        Command::Completions { shell } => completions(shell),
        Command::Man(args) => man::run(Cli::command(), &args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err @ (error::CliError::Closed | error::CliError::Reported { .. })) => {
            ExitCode::from(err.exit_code())
        }
        Err(err) => {
            if let Some(paths) = &json_paths {
                // Under --json, the error object(s) on stdout too, in the
                // same words (a closed stdout changes nothing here).
                for object in err.objects(paths) {
                    let _ = out::print_json(&object);
                }
            }
            eprintln!("plog: {}", text::sanitize_message(&err.to_string()));
            ExitCode::from(err.exit_code())
        }
    }
}

/// The paths of a command run with `--json`: those its error objects name
/// when an error names no path of its own.
fn json_paths(command: &Command) -> Option<Vec<PathBuf>> {
    match command {
        Command::Verify(a) if a.json => Some(a.paths.clone()),
        Command::Dump(a) if a.json => Some(vec![a.path.clone()]),
        Command::Stat(a) if a.json => Some(vec![a.path.clone()]),
        Command::Repair(a) if a.json => Some(vec![a.path.clone()]),
        Command::Append(a) if a.json => Some(vec![a.path.clone()]),
        _ => None,
    }
}

/// `plog completions SHELL`: generated from the clap definition.
fn completions(shell: clap_complete::Shell) -> Result<u8, error::CliError> {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "plog", &mut script);
    out::emit(&mut std::io::stdout().lock(), &script)?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every flag of every subcommand, as `--long`, is in the subcommand's
    /// page; every `plog-X(1)` the overview names is a page `--dir` writes.
    #[test]
    fn every_page_lists_every_flag_and_see_also_names_real_pages() {
        let cmd = man::pages_command(Cli::command());
        let dir = tempfile::tempdir().unwrap();
        man::run(
            Cli::command(),
            &man::ManArgs {
                subcommand: None,
                dir: Some(dir.path().to_path_buf()),
            },
        )
        .unwrap();
        let mut subcommands = 0;
        for sub in cmd.get_subcommands() {
            subcommands += 1;
            let file = dir.path().join(format!("plog-{}.1", sub.get_name()));
            let page = std::fs::read_to_string(&file).unwrap();
            let mut flags = 0;
            for arg in sub.get_arguments() {
                if let Some(long) = arg.get_long() {
                    flags += 1;
                    // roff escapes a '-' as "\-".
                    let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
                    assert!(
                        page.contains(&roff),
                        "plog-{}.1 does not list --{long}",
                        sub.get_name()
                    );
                }
            }
            assert!(flags > 0, "plog {} has flags", sub.get_name());
            assert!(page.contains(&format!("plog\\-{}", sub.get_name())));
        }
        assert_eq!(subcommands, 7);
        // SEE ALSO names every subcommand's page, and each exists.
        let top = std::fs::read_to_string(dir.path().join("plog.1")).unwrap();
        let see_also = top
            .split(".SH \"SEE ALSO\"\n")
            .nth(1)
            .expect("a SEE ALSO section");
        let named: Vec<String> = see_also
            .split([',', ' ', '\n'])
            .filter(|word| !word.is_empty())
            .map(|word| word.replace("\\-", "-").replace("(1)", ".1"))
            .collect();
        assert_eq!(named.len(), subcommands, "{see_also}");
        for name in &named {
            assert!(dir.path().join(name).is_file(), "{name} is not written");
        }
        // The SUBCOMMANDS section names the same pages.
        for name in &named {
            let roff = name.replace('-', "\\-").replace(".1", "(1)");
            assert!(top.contains(&roff), "{roff}");
        }
        assert!(!dir.path().join("plog-help.1").exists());
    }
}
