//! Pushing images to registries and checking logins (PushImage, LoginRegistry).
