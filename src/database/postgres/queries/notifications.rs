//! Notifications enqueued for users.

use crate::database::NotificationStore;
use crate::database::Result;
use crate::database::models::InsertNotificationMessage;
use crate::database::postgres::queries::new_id;
use crate::database::postgres::tx::PgTx;

impl NotificationStore for PgTx<'_> {
    fn insert_notification_message(&self, params: &InsertNotificationMessage<'_>) -> Result<()> {
        let InsertNotificationMessage {
            id: message_id,
            notification_template_id: template,
            user_id,
            payload,
            created_at: now,
        } = *params;
        let op = "insert notification message";
        let sql = "INSERT INTO notification_messages (id, notification_template_id, user_id, payload, created_by,
                                                      created_at, updated_at)
                   VALUES ($1, $2, $3, $4, 'prebuilds_reconciler', $5, $5)";
        let (message_id, user_id) = (new_id(op, "id", message_id)?, new_id(op, "user_id", user_id)?);
        self.exec(op, sql, &[&message_id, &template, &user_id, payload, &now])
    }
}
