//! The harness the emulator's HTTP tests share: an emulator served on a loopback port, its base
//! URL and a client. Each test file adds its own request helpers in an `impl Env` block.

use std::time::Duration;

use emulator::{Emulator, EmulatorConfig};
use reqwest::Client;

pub struct Env {
    pub emulator: Emulator,
    pub base: String,
    pub client: Client,
}

/// Serves an emulator with `config` on a free loopback port.
pub async fn start_with(config: EmulatorConfig) -> Env {
    let emulator = Emulator::new(config);
    let base = emulator.spawn(0).await.expect("emulator binds a loopback port");
    let client = Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    Env { emulator, base, client }
}

impl Env {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}
