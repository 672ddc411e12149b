//! The first user: the deployment's owner, created once (upstream's `POST /users/first` and
//! setup page). "No user yet" and the insert decide together in one write transaction under
//! the deployment setup lock, so of racing callers exactly one creates it.

use crate::database;
use crate::database::Error;
use crate::database::LockId;
use crate::database::Store;
use crate::database::TxOptions;
use crate::database::models::InsertUser;
use crate::database::models::LoginType;
use crate::database::models::UserStatus;

/// Who the first user is; the fields are checked by the caller (the API's validation).
#[derive(Debug, Clone, Copy)]
pub struct FirstUser<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub name: &'a str,
    /// The hash of [`crate::identity::password::hash_password`] (hashed before the
    /// transaction: it takes milliseconds).
    pub hashed_password: &'a str,
}

/// Why no first user was created.
#[derive(Debug, thiserror::Error)]
pub enum FirstUserError {
    #[error("the initial user has already been created")]
    AlreadyCreated,
    /// The username or email is taken (by a system user).
    #[error("user already exists")]
    Taken,
    #[error(transparent)]
    Database(#[from] Error),
}

/// Creates the first user as an owner and member of the default organization; answers
/// (user id, organization id).
pub fn create_first_user(store: &dyn Store, new: &FirstUser<'_>) -> Result<(String, String), FirstUserError> {
    let now = store.clock().now();
    database::in_tx(store, TxOptions::write("create first user"), |tx| {
        tx.acquire_lock(LockId::DeploymentSetup)?;
        if tx.get_user_count(false)? > 0 {
            return Err(FirstUserError::AlreadyCreated);
        }
        let org = tx.get_default_organization()?;
        let user = tx
            .insert_user(&InsertUser {
                id: &uuid::Uuid::new_v4().to_string(),
                email: new.email,
                username: new.username,
                name: new.name,
                status: UserStatus::Active,
                login_type: LoginType::Password,
                created_at: now,
                last_seen_at: crate::clock::from_micros(0),
            })
            .map_err(|e| match e {
                Error::UniqueViolation { .. } => FirstUserError::Taken,
                other => other.into(),
            })?;
        tx.update_user_hashed_password(&user.id, new.hashed_password, now)?;
        tx.update_user_roles(&user.id, &["owner".to_owned()], now)?;
        tx.insert_organization_member(&crate::database::models::InsertOrganizationMember {
            organization_id: &org.id,
            user_id: &user.id,
            roles: &[],
            created_at: now,
        })?;
        Ok((user.id, org.id))
    })
}
