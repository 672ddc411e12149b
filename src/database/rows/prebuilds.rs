//! Shared row mappers of the prebuilds domain's queries.
