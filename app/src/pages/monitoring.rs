//! Monitoring: the services probed at their interval (HTTP, TCP, PostgreSQL) with their latest
//! state, checked now from here; a service added by an admin; and the last hour of everything
//! sampled — services, Bulwark's own nodes and storage locations, outside agents.

use leptos::prelude::*;

use crate::api::monitoring::{CheckService, CreateService, DeleteService, HealthStatus, ServiceKind, SetServiceEnabled, SilenceService, list_services, services_health};
use crate::components::{EmptyState, ErrorPanel, PageHeader, SilenceFields, action_outcome, form_error};

/// A state as a labelled mark.
fn health(status: Option<HealthStatus>) -> impl IntoView {
    let text = status.map_or("not probed yet", HealthStatus::as_str);
    view! { <span class=format!("health {text}")>{text}</span> }
}

#[component]
pub fn MonitoringPage() -> impl IntoView {
    let create = ServerAction::<CreateService>::new();
    let check = ServerAction::<CheckService>::new();
    let enable = ServerAction::<SetServiceEnabled>::new();
    let delete = ServerAction::<DeleteService>::new();
    let silence = ServerAction::<SilenceService>::new();
    let services = Resource::new(
        move || (create.version().get(), check.version().get(), enable.version().get(), delete.version().get()),
        |_| list_services(),
    );
    let summary = Resource::new(move || check.version().get(), |_| services_health());
    view! {
        <PageHeader title="Monitoring" lead="The services backups and restores depend on, probed at their interval by the nodes (once per interval across them); Bulwark's own nodes and storage locations are sampled too. A service that keeps failing raises service_unhealthy, resolved by its next good probe."/>
        <section class="panel">
            <h2>"Services"</h2>
            {action_outcome(check.value(), "check-outcome")}
            {action_outcome(silence.value(), "silence-outcome")}
            {form_error(enable.value())}
            {form_error(delete.value())}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match services.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <EmptyState title="No services are monitored yet">
                                <p>"Add the databases, APIs and ports a restore needs below: an HTTP address (its status, a text in its body, its certificate's expiry), a TCP port, or a PostgreSQL server (a read-only query, a standby's lag, a primary's WAL archiving)."</p>
                            </EmptyState>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="data" data-testid="services">
                                <thead><tr><th>"Service"</th><th>"Target"</th><th>"State"</th><th>"Last probe"</th><th>"Every"</th><th></th></tr></thead>
                                <tbody>{list.into_iter().map(|s| {
                                    let target = match s.kind {
                                        ServiceKind::Http => s.settings.url.clone().unwrap_or_default(),
                                        ServiceKind::Tcp => format!("{}:{}", s.settings.host.clone().unwrap_or_default(), s.settings.port.unwrap_or_default()),
                                        ServiceKind::Postgres => format!("{}@{}:{}/{}", s.settings.username.clone().unwrap_or_default(), s.settings.host.clone().unwrap_or_default(), s.settings.port.unwrap_or_default(), s.settings.database.clone().unwrap_or_default()),
                                    };
                                    let last = match (&s.last_checked_at, &s.last_message) {
                                        (Some(at), Some(message)) => format!("{at}: {message}"),
                                        _ => "—".to_string(),
                                    };
                                    let (check_id, toggle_id, silence_id, delete_id) = (s.id.clone(), s.id.clone(), s.id.clone(), s.id.clone());
                                    view! {
                                        <tr data-service=s.name.clone() data-status=s.last_status.map_or("none", HealthStatus::as_str)>
                                            <td><strong>{s.name.clone()}</strong>" " {s.kind.as_str()}{(!s.enabled).then_some(" (disabled)")}</td>
                                            <td>{target}</td>
                                            <td>{health(s.last_status)}</td>
                                            <td>{last}</td>
                                            <td>{format!("{} s", s.interval_seconds)}</td>
                                            <td>
                                                <ActionForm action=check attr:class="row-form">
                                                    <input type="hidden" name="id" value=check_id/>
                                                    <button type="submit">"Check now"</button>
                                                </ActionForm>
                                                <ActionForm action=enable attr:class="row-form">
                                                    <input type="hidden" name="id" value=toggle_id/>
                                                    <input type="hidden" name="enabled" value=(!s.enabled).to_string()/>
                                                    <button type="submit">{if s.enabled { "Disable" } else { "Enable" }}</button>
                                                </ActionForm>
                                                <ActionForm action=silence attr:class="row-form">
                                                    <input type="hidden" name="id" value=silence_id/>
                                                    <SilenceFields/>
                                                    <button type="submit">"Silence"</button>
                                                </ActionForm>
                                                <ActionForm action=delete attr:class="row-form">
                                                    <input type="hidden" name="id" value=delete_id/>
                                                    <button type="submit" class="danger">"Delete"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="panel">
            <h2>"The last hour"</h2>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match summary.await {
                        Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                        Ok(s) if s.services.is_empty() => view! { <p>"No samples in the last hour."</p> }.into_any(),
                        Ok(s) => view! {
                            <p>{format!("{} services: {} healthy, {} degraded, {} unhealthy.", s.total_services, s.healthy, s.degraded, s.unhealthy)}</p>
                            <table class="data" data-testid="samples-summary">
                                <thead><tr><th>"Service"</th><th>"Latest"</th><th>"Available"</th><th>"Average answer"</th><th>"Samples"</th></tr></thead>
                                <tbody>{s.services.into_iter().map(|x| view! {
                                    <tr data-service=x.service_name.clone()>
                                        <td>{x.service_name.clone()}</td>
                                        <td>{health(Some(x.latest_status))}" " {x.latest_at.clone()}</td>
                                        <td>{format!("{:.1}%", x.availability)}</td>
                                        <td>{x.average_response_time_ms.map_or("—".to_string(), |ms| format!("{ms:.0} ms"))}</td>
                                        <td>{x.samples}</td>
                                    </tr>
                                }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
        <section class="panel">
            <h2>"Add a service"</h2>
            <p>"Admins add services. Fill in what its kind uses: an address for HTTP; a host and port for TCP; a host, user (and password) for PostgreSQL, whose query runs read-only."</p>
            <ActionForm action=create attr:class="grid-form" attr:data-testid="add-service">
                <label>"Name" <input type="text" name="name" required maxlength="100"/></label>
                <label>"Kind"
                    <select name="kind">
                        <option value="http" selected=true>"HTTP"</option>
                        <option value="tcp">"TCP"</option>
                        <option value="postgres">"PostgreSQL"</option>
                    </select>
                </label>
                <label>"URL (HTTP)" <input type="text" name="url" placeholder="https://api.example.com/health"/></label>
                <label>"Text the body must contain (HTTP)" <input type="text" name="body_contains"/></label>
                <label>"Host (TCP, PostgreSQL)" <input type="text" name="host"/></label>
                <label>"Port (TCP, PostgreSQL)" <input type="number" name="port" min="1" max="65535"/></label>
                <label>"Database (PostgreSQL)" <input type="text" name="database" placeholder="postgres"/></label>
                <label>"User (PostgreSQL)" <input type="text" name="username" autocomplete="off"/></label>
                <label>"Password (PostgreSQL)" <input type="password" name="password" autocomplete="new-password"/></label>
                <label>"Query (PostgreSQL)" <input type="text" name="query" placeholder="SELECT 1"/></label>
                <label>"TLS (PostgreSQL)"
                    <select name="ssl_mode">
                        <option value="prefer" selected=true>"prefer: encrypted when the server offers it"</option>
                        <option value="require">"require: encrypted, certificate not checked"</option>
                        <option value="verify-full">"verify-full: encrypted, its certificate checked for the host"</option>
                        <option value="disable">"disable: never encrypted"</option>
                    </select>
                </label>
                <label>"Every (seconds)" <input type="number" name="interval" placeholder="60"/></label>
                <button type="submit" class="primary">"Add service"</button>
            </ActionForm>
            {form_error(create.value())}
        </section>
    }
}
