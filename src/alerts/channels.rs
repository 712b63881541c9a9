//! notification_channel_failed: a channel its own failures disabled is an alert (told through
//! the channels still working), resolved once the channel is enabled again or deleted.

use super::{AlertError, AlertType, Condition, Severity};
use crate::notifications::channels;
use crate::platform::catalog::Catalog;

fn subject(channel_id: &str) -> String {
    format!("notification-channel:{channel_id}")
}

/// Raises the alert of every channel disabled by failures that has none open, and resolves
/// those of channels that work again. Returns how many it raised.
pub async fn evaluate(catalog: &Catalog) -> Result<usize, AlertError> {
    let disabled = channels::disabled_by_failures(catalog).await?;
    let mut raised = 0;
    for (id, name, reason) in &disabled {
        let subject = subject(id);
        if !super::is_open(catalog, AlertType::NotificationChannelFailed, &subject).await? {
            let message = format!("notification channel {name:?} was {reason}: nothing is sent through it until an administrator enables it again");
            super::raise_condition(catalog, &Condition { alert_type: AlertType::NotificationChannelFailed, severity: Severity::High, subject: &subject, message: &message, configuration_id: None, execution_id: None })
                .await?;
            raised += 1;
        }
    }
    let open = super::open_subjects(catalog, AlertType::NotificationChannelFailed).await?;
    for subject_text in open {
        // Read again: a delivery on another node may have disabled it since the list above.
        let still = channels::disabled_by_failures(catalog).await?;
        if !still.iter().any(|(id, _, _)| subject(id) == subject_text) {
            super::resolve(catalog, AlertType::NotificationChannelFailed, &subject_text, "the channel was enabled again or deleted").await?;
        }
    }
    Ok(raised)
}
