//! `initra gen-image-key` and `initra image` (format: docs/image-format.md).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use initra_image::{
    ImageKey, KeySize, OpenKey, OpenOptions, Progress, RootHash, SealOptions, TerminalProgress,
};

use crate::output::print_stdout;

/// `initra image ...`
#[derive(clap::Subcommand)]
pub(crate) enum ImageCmd {
    /// Seal a directory tree into an image: encrypted with --key, or --integrity-only (prints the
    /// root hash to pin).
    Seal(SealArgs),
    /// Verify (and decrypt) an image and extract it into DEST_DIR (absent or empty). Nothing is
    /// left in DEST_DIR when the image is refused.
    Open(OpenArgs),
    /// Print an image's header fields (no key needed).
    Inspect(InspectArgs),
}

/// `initra gen-image-key FILE`
#[derive(clap::Args)]
pub(crate) struct GenImageKeyArgs {
    /// The key file to create (mode 0600).
    file: PathBuf,
    /// Key size: 128 (Occlum's format) or 256.
    #[arg(long, value_enum, default_value = "128")]
    bits: Bits,
    /// Replace FILE if it exists.
    #[arg(long)]
    force: bool,
}

/// `--bits` of `gen-image-key`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Bits {
    /// 16 bytes (Occlum's `gen-image-key`).
    #[value(name = "128")]
    B128,
    /// 32 bytes.
    #[value(name = "256")]
    B256,
}

/// `initra image seal`
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("protection").args(["key", "integrity_only"]).required(true)))]
pub(crate) struct SealArgs {
    /// Image key file (Occlum format: 16 or 32 bytes as dashed hex); or --integrity-only.
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// No encryption: authenticate with a root hash, printed as `root_hash: HEX`.
    #[arg(long)]
    integrity_only: bool,
    /// Plaintext bytes per chunk: a power of two from 512 to 16777216.
    #[arg(long, default_value_t = initra_image::DEFAULT_CHUNK_SIZE)]
    chunk_size: u32,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The directory tree to seal.
    src_dir: PathBuf,
    /// The image to write (replaced atomically).
    out: PathBuf,
}

/// `initra image open`
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("unlock").args(["key", "root_hash"]).required(true)))]
pub(crate) struct OpenArgs {
    /// Image key file, for encrypted images; or --root-hash.
    #[arg(long, value_name = "KEY")]
    key: Option<PathBuf>,
    /// Pinned root hash (64 hex digits), required for integrity-only images.
    #[arg(long, value_name = "HEX")]
    root_hash: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// The image.
    image: PathBuf,
    /// Where the tree appears: absent, or an empty directory.
    dest_dir: PathBuf,
}

/// `initra image inspect`
#[derive(clap::Args)]
pub(crate) struct InspectArgs {
    /// The image.
    image: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: ImageCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ImageCmd::Seal(args) => seal(&args),
        ImageCmd::Open(args) => open(&args),
        ImageCmd::Inspect(args) => inspect(&args),
    }
}

pub(crate) fn gen_key(args: GenImageKeyArgs) -> anyhow::Result<ExitCode> {
    let size = match args.bits {
        Bits::B128 => KeySize::Bits128,
        Bits::B256 => KeySize::Bits256,
    };
    let key = ImageKey::generate(size)?;
    key.write_file(&args.file, args.force)
        .with_context(|| format!("writing image key {}", args.file.display()))?;
    // The key itself is never printed.
    crate::output::notice(&format!(
        "wrote a {size} image key to {} (mode 0600)",
        args.file.display()
    ));
    Ok(ExitCode::SUCCESS)
}

fn read_key(path: &Path) -> anyhow::Result<ImageKey> {
    ImageKey::from_file(path).with_context(|| format!("reading image key {}", path.display()))
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
fn progress_bar(label: &str) -> Option<TerminalProgress> {
    std::io::stderr()
        .is_terminal()
        .then(|| TerminalProgress::new(label))
}

fn seal(args: &SealArgs) -> anyhow::Result<ExitCode> {
    let key = args.key.as_deref().map(read_key).transpose()?;
    let bar = progress_bar("sealing");
    let opts = SealOptions {
        chunk_size: args.chunk_size,
        progress: bar.as_ref().map(|b| b as &dyn Progress),
    };
    let report =
        initra_image::seal(&args.src_dir, &args.out, key.as_ref(), &opts).with_context(|| {
            format!(
                "sealing {} into {}",
                args.src_dir.display(),
                args.out.display()
            )
        })?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string(&report)?))?;
    } else {
        let mut text = format!(
            "image: {}\nmode: {}\nfiles: {}\ndirectories: {}\nsymlinks: {}\nchunks: {}\nimage_bytes: {}\n",
            args.out.display(),
            report.mode,
            report.files,
            report.directories,
            report.symlinks,
            report.chunks,
            report.image_bytes
        );
        if let Some(root) = report.root_hash {
            text.push_str(&format!("root_hash: {root}\n"));
        }
        print_stdout(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn open(args: &OpenArgs) -> anyhow::Result<ExitCode> {
    let key;
    let open_key = match (&args.key, &args.root_hash) {
        (Some(path), _) => {
            key = read_key(path)?;
            OpenKey::Key(&key)
        }
        (None, Some(hex)) => OpenKey::RootHash(
            hex.parse::<RootHash>()
                .context("--root-hash: expected the 64 hex digits printed by `initra image seal --integrity-only`")?,
        ),
        (None, None) => anyhow::bail!("give --key KEY (encrypted image) or --root-hash HEX (integrity-only image)"),
    };
    let bar = progress_bar("opening");
    let opts = OpenOptions {
        progress: bar.as_ref().map(|b| b as &dyn Progress),
    };
    let report = initra_image::open(&args.image, &args.dest_dir, open_key, &opts).map_err(|e| {
        let hint = match &e {
            initra_image::Error::WrongKey { .. } => {
                " (is --key the key this image was sealed with?)"
            }
            initra_image::Error::RootHashMismatch { .. } => {
                " (the image is not the one whose root hash was pinned)"
            }
            _ => "",
        };
        anyhow::Error::new(e).context(format!(
            "opening {} into {}{hint}",
            args.image.display(),
            args.dest_dir.display()
        ))
    })?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string(&report)?))?;
    } else {
        print_stdout(&format!(
            "opened: {}\nmode: {}\nfiles: {}\ndirectories: {}\nsymlinks: {}\nfile_bytes: {}\nchunks: {}\n",
            args.dest_dir.display(),
            report.mode,
            report.files,
            report.directories,
            report.symlinks,
            report.file_bytes,
            report.chunks
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let info = initra_image::inspect(&args.image)?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string(&info)?))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "version: {}\nmode: {}\nchunk_size: {}\nimage_bytes: {}\nchunks: {}\n",
        info.version, info.mode, info.chunk_size, info.image_bytes, info.chunks
    );
    if let Some(bits) = info.key_bits {
        text.push_str(&format!("key_bits: {bits}\n"));
    }
    if let Some(root) = info.root_hash {
        text.push_str(&format!(
            "root_hash: {root} (of the header as stored: compare with the pinned value)\n"
        ));
    }
    print_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
