//! `plog man`: the manual pages, rendered by clap_mangen from the clap
//! definition itself, so that every flag of every subcommand is in its page:
//! `plog.1` (the overview, whose SEE ALSO names each `plog-SUBCOMMAND(1)`)
//! and one page per subcommand.

use std::path::PathBuf;

use crate::error::CliError;
use crate::text::escape_bytes;
use crate::{exit, out};

/// Arguments of `plog man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Print this subcommand's page (plog-SUBCOMMAND(1)) instead of plog(1).
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
    /// Write every page (plog.1, plog-verify.1, ...) into the existing
    /// directory DIR instead of printing one; files of those names are
    /// replaced.
    #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
    pub dir: Option<PathBuf>,
}

/// The command the pages are rendered from: built (so that each subcommand
/// is named `plog-verify` and used as `plog verify`), without clap's `help`
/// subcommand (no page for it, none named).
pub fn pages_command(cli: clap::Command) -> clap::Command {
    let mut cmd = cli.disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The page of `cmd` (the overview, or one subcommand), in roff, ending in
/// a SEE ALSO section: the overview names every subcommand's page, a
/// subcommand's page names the overview.
fn render(cmd: &clap::Command, overview: &clap::Command) -> Result<Vec<u8>, CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .map_err(|err| CliError::failed(format!("cannot render the manual page: {err}")))?;
    let pages: Vec<String> = if cmd.get_name() == overview.get_name() {
        overview
            .get_subcommands()
            .map(|sub| format!("{}\\-{}(1)", overview.get_name(), sub.get_name()))
            .collect()
    } else {
        vec![format!("{}(1)", overview.get_name())]
    };
    page.extend_from_slice(format!(".SH \"SEE ALSO\"\n{}\n", pages.join(", ")).as_bytes());
    Ok(page)
}

/// Runs `plog man` over the clap definition `cli`.
pub fn run(cli: clap::Command, args: &ManArgs) -> Result<u8, CliError> {
    let cmd = pages_command(cli);
    if let Some(dir) = &args.dir {
        for page in std::iter::once(&cmd).chain(cmd.get_subcommands()) {
            let path = dir.join(clap_mangen::Man::new(page.clone()).get_filename());
            let roff = render(page, &cmd)?;
            std::fs::write(&path, roff)
                .map_err(|err| CliError::io("cannot write the manual page", &path, err))?;
        }
        return Ok(exit::OK);
    }
    let page = match &args.subcommand {
        None => render(&cmd, &cmd)?,
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name) else {
                let names: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
                return Err(CliError::failed(format!(
                    "man: expected a subcommand ({}), found {}",
                    names.join(", "),
                    escape_bytes(name.as_bytes())
                )));
            };
            render(sub, &cmd)?
        }
    };
    out::emit(&mut std::io::stdout().lock(), &page)?;
    Ok(exit::OK)
}
