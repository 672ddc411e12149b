//! Notifications enqueued for users: `NotificationStore`.

use crate::clock::Timestamp;
use crate::database::Result;

store_domain! {
    /// Notification messages enqueued for users (upstream sends them; coderlite keeps them for operators and tests).
    pub trait NotificationStore {

        /// Enqueues a notification for a user.
        write fn insert_notification_message(&self, params: &InsertNotificationMessage<'_>) -> Result<()>;
    }
}

#[derive(Debug, Clone)]
pub struct InsertNotificationMessage<'a> {
    pub id: &'a str,
    /// Upstream's notification template ID (e.g. the prebuild hard-limit notice).
    pub notification_template_id: &'a str,
    pub user_id: &'a str,
    pub payload: &'a serde_json::Value,
    pub created_at: Timestamp,
}
