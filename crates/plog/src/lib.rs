//! Work in progress (see the issues).
