//! Replacing `init` with the application: the application keeps init's PID, receives its signals
//! directly and its exit status is the workload's exit status.

use std::ffi::CString;

use crate::Error;

/// The application to start.
#[derive(Debug, Clone)]
pub struct Command {
    /// argv, `argv[0]` resolved through `PATH` when it has no `/`.
    pub argv: Vec<String>,
    /// Extra environment variables (e.g. from secrets).
    pub env: Vec<(String, zeroize::Zeroizing<Vec<u8>>)>,
}

/// Executes the command; returns only on failure.
pub fn exec(cmd: &Command) -> Error {
    let Some(program) = cmd.argv.first() else {
        return Error::NoCommand;
    };
    let to_c = |s: &[u8]| CString::new(s.to_vec());
    let argv: Result<Vec<CString>, _> = cmd.argv.iter().map(|a| to_c(a.as_bytes())).collect();
    let Ok(argv) = argv else {
        return Error::Exec {
            program: program.clone(),
            message: "argument contains a NUL byte".into(),
        };
    };
    let mut env: Vec<CString> = Vec::new();
    for (k, v) in std::env::vars_os() {
        if cmd
            .env
            .iter()
            .any(|(name, _)| std::ffi::OsStr::new(name) == k)
        {
            continue;
        }
        use std::os::unix::ffi::OsStrExt;
        let mut kv = k.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        if let Ok(c) = CString::new(kv) {
            env.push(c);
        }
    }
    for (name, value) in &cmd.env {
        let mut kv = name.as_bytes().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(value);
        match CString::new(kv) {
            Ok(c) => env.push(c),
            Err(_) => {
                return Error::Exec {
                    program: program.clone(),
                    message: format!("secret for environment variable {name} contains a NUL byte"),
                }
            }
        }
    }
    let Some(file) = argv.first() else {
        return Error::NoCommand;
    };
    match nix::unistd::execvpe(file, &argv, &env) {
        Err(e) => Error::Exec {
            program: program.clone(),
            message: e.to_string(),
        },
        Ok(never) => match never {},
    }
}
