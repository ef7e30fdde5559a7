//! Pulling images from registries (PullImage, `run --pull`).
