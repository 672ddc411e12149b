//! Identity: who a user is and what they may do, as domain rules the HTTP API, the CLI and
//! fixtures share. `roles` (upstream's site roles and who may manage whom, pure), `password`
//! (Argon2id hashing with a configured cost), `keys` (API key generation, parsing, hashing,
//! and issuing one for a user), `first_user` (the deployment's first owner).

pub mod first_user;
pub mod keys;
pub mod password;
pub mod roles;
