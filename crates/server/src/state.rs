//! The reloadable server state: secrets plus the gate (verifier and policy), swapped atomically on SIGHUP.
//!
//! An RPC takes one snapshot (`Arc<State>`) and decides from it alone, so a reload never mixes the old
//! secrets with the new policy. A failed reload leaves the snapshot in place.

use std::sync::{Arc, RwLock};

use crate::peer::Gate;
use crate::secrets::SecretStore;

/// One consistent snapshot of what the server serves and how it decides.
pub struct State<G> {
    /// The secrets.
    pub secrets: SecretStore,
    /// The peer and access decisions.
    pub gate: G,
}

/// The current snapshot, shared by the accept loop and every RPC.
pub(crate) struct Shared<G> {
    current: RwLock<Arc<State<G>>>,
}

impl<G: Gate> Shared<G> {
    pub(crate) fn new(state: State<G>) -> Self {
        Self {
            current: RwLock::new(Arc::new(state)),
        }
    }

    /// The current snapshot. A poisoned lock still holds a complete `Arc` (it is only ever replaced
    /// whole), so poisoning is ignored.
    pub(crate) fn current(&self) -> Arc<State<G>> {
        let guard = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// Installs a new snapshot; RPCs already running keep the one they took.
    pub(crate) fn replace(&self, state: State<G>) {
        let mut guard = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = Arc::new(state);
    }
}
