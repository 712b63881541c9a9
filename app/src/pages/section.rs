//! The shared shape of a section page that has no records yet: it reads the live count from
//! the catalog and, while that is zero, says what the section is for and what to do.

use leptos::prelude::*;

use crate::api::overview::{Overview, load_overview};
use crate::components::{EmptyState, ErrorPanel, PageHeader};

#[component]
pub fn SectionPage(
    title: &'static str,
    lead: &'static str,
    /// Which figure counts this section's records.
    count: fn(&Overview) -> i64,
    /// What one record is called, in the plural.
    noun: &'static str,
    empty_title: &'static str,
    /// The empty state's explanation and next step.
    children: ChildrenFn,
) -> impl IntoView {
    let data = Resource::new(|| (), |_| load_overview());
    let children = StoredValue::new(children);
    view! {
        <PageHeader title lead/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(o) if count(&o) == 0 => {
                        view! { <EmptyState title=empty_title>{children.read_value()()}</EmptyState> }.into_any()
                    }
                    Ok(o) => view! { <p class="count">{count(&o)} " " {noun} " recorded."</p> }.into_any(),
                }
            })}
        </Transition>
    }
}
