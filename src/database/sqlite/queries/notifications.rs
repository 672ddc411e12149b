//! Notifications enqueued for users.

use rusqlite::params;

use crate::clock::to_micros;
use crate::database::NotificationStore;
use crate::database::Result;
use crate::database::models::InsertNotificationMessage;
use crate::database::sqlite::tx::SqliteTx;

impl NotificationStore for SqliteTx<'_> {
    fn insert_notification_message(&self, params: &InsertNotificationMessage<'_>) -> Result<()> {
        let InsertNotificationMessage { id, notification_template_id: template, user_id, payload, created_at: now } =
            *params;
        let sql = "INSERT INTO notification_messages (id, notification_template_id, user_id, payload, created_by,
                                                      created_at, updated_at)
                   VALUES (?1, ?2, ?3, ?4, 'prebuilds_reconciler', ?5, ?5)";
        let params = params![id, template, user_id, payload.to_string(), to_micros(now)];
        self.exec("insert notification message", sql, params)
    }
}
