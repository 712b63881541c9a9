//! A storage location's retention floor, on its page: the minimum and maximum age of the
//! backups it keeps, and the lock that makes the floor only grow.

use leptos::prelude::*;

use crate::components::action_outcome;
use crate::dto::FloorView;
use crate::error::AppError;

#[server(prefix = "/_sfn", endpoint = "get_floor")]
pub async fn get_floor(id: String) -> Result<FloorView, AppError> {
    let p = crate::ssr::principal().await?;
    p.require(bulwark_core::platform::auth::Role::Viewer).map_err(AppError::from_core)?;
    let f = bulwark_core::retention::floor::get(&crate::ssr::catalog()?, &id).await.map_err(AppError::from_core)?;
    Ok(FloorView { locked: f.is_locked(), min_days: f.min_days, max_days: f.max_days, locks_at: f.locks_at })
}

#[server(prefix = "/_sfn", endpoint = "set_floor")]
pub async fn set_floor(id: String, min_days: String, max_days: String, lock: Option<String>, cooling_off_hours: String) -> Result<String, AppError> {
    use bulwark_core::retention::floor::{self, NewFloor};
    let p = crate::ssr::principal().await?;
    let number = |field: &str, text: &str| -> Result<Option<i64>, AppError> {
        match text.trim() {
            "" => Ok(None),
            t => t.parse().map(Some).map_err(|_| AppError::Invalid(format!("{field}: a whole number"))),
        }
    };
    let new = NewFloor {
        min_days: number("minDays", &min_days)?,
        max_days: number("maxDays", &max_days)?,
        lock: lock.is_some(),
        cooling_off_hours: number("coolingOffHours", &cooling_off_hours)?,
    };
    let f = floor::set(&crate::ssr::catalog()?, &p, &id, new).await.map_err(AppError::from_core)?;
    Ok(match f.locks_at {
        Some(at) => format!("Floor saved; locked from {at} on (it can then only grow)."),
        None => "Floor saved (unlocked: it can still be changed or removed).".into(),
    })
}

#[component]
pub fn FloorPanel(id: String) -> impl IntoView {
    let save = ServerAction::<SetFloor>::new();
    let key = id.clone();
    let floor = Resource::new(move || (key.clone(), save.version().get()), |(id, _)| get_floor(id));
    let days = |d: Option<i64>| d.map_or_else(|| "none".to_string(), |d| format!("{d} days"));
    view! {
        <section class="panel" data-testid="floor">
            <h2>"Retention floor"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    floor.await.map(|f| {
                        let lock = match (&f.locks_at, f.locked) {
                            (Some(at), true) => format!("locked since {at}: it can only grow"),
                            (Some(at), false) => format!("locks at {at} (cooling off: still changeable)"),
                            (None, _) => "unlocked".to_string(),
                        };
                        view! { <p data-testid="floor-state">{format!("Minimum {}, maximum {}; {lock}.", days(f.min_days), days(f.max_days))}</p> }
                    })
                })}
            </Transition>
            <ActionForm action=save attr:class="grid-form">
                <input type="hidden" name="id" value=id/>
                <label>"Minimum days (nothing younger is deleted)" <input type="number" name="min_days" min="1" aria-label="Minimum days"/></label>
                <label>"Maximum days (nothing older is kept, holds aside)" <input type="number" name="max_days" min="1" aria-label="Maximum days"/></label>
                <label>"Cooling-off hours before the lock" <input type="number" name="cooling_off_hours" min="0" placeholder="72" aria-label="Cooling-off hours"/></label>
                <label class="check"><input type="checkbox" name="lock" value="on" aria-label="Lock the floor"/> "Lock: after the cooling-off period nobody, admins included, can shorten or remove it"</label>
                <button type="submit">"Save floor"</button>
            </ActionForm>
            {action_outcome(save.value(), "floor-report")}
        </section>
    }
}
