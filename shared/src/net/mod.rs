//! Adapters for the network itself: the one TLS stack, and the connections opened in init.

pub mod preconnect;
pub mod tls;
