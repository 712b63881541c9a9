//! A storage location's retention floor, on its page: the minimum and maximum age of the
//! backups it keeps, and the lock that makes the floor only grow.

use leptos::prelude::*;

use crate::api::locations::{SetFloor, get_floor};
use crate::components::action_outcome;

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
