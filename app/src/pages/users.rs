//! User administration (admins only; the core refuses everyone else).

use leptos::prelude::*;

use crate::api::users::{Role, CreateUser, DeleteUser, RemoveUserSecondFactor, UpdateUser, UserRow, list_users};
use crate::components::{ErrorPanel, PageHeader, form_error};

#[component]
pub fn UsersPage() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let update = ServerAction::<UpdateUser>::new();
    let delete = ServerAction::<DeleteUser>::new();
    let unenroll = ServerAction::<RemoveUserSecondFactor>::new();
    let users = Resource::new(
        move || (create.version().get(), update.version().get(), delete.version().get(), unenroll.version().get()),
        |_| list_users(),
    );
    view! {
        <PageHeader title="Users" lead="Who may use Bulwark. Roles: viewer < operator < approver < admin."/>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(list) => view! {
                        <section class="panel">
                            <h2>"Add a user"</h2>
                            <ActionForm action=create attr:class="inline-form">
                                <label>"Username" <input type="text" name="username" required/></label>
                                <label>"Role"
                                    <select name="role" aria-label="Role">
                                        {Role::ALL.iter().map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}
                                    </select>
                                </label>
                                <label>"Initial password" <input type="password" name="password" autocomplete="new-password" required/></label>
                                <button type="submit" class="primary">"Add user"</button>
                            </ActionForm>
                            {form_error(create.value())}
                        </section>
                        {form_error(update.value())}
                        {form_error(delete.value())}
                        {form_error(unenroll.value())}
                        <table class="data">
                            <thead><tr><th>"Username"</th><th>"Role"</th><th>"Status"</th><th>"Second factor"</th><th>"Last login"</th><th>"Actions"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|u| view! { <UserLine user=u update delete unenroll/> }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn UserLine(user: UserRow, update: ServerAction<UpdateUser>, delete: ServerAction<DeleteUser>, unenroll: ServerAction<RemoveUserSecondFactor>) -> impl IntoView {
    let id = user.id.clone();
    let (id2, id3, id4) = (id.clone(), id.clone(), id.clone());
    let current_role = user.role;
    let role_label = format!("Role of {}", user.username);
    let status = if user.disabled { "disabled" } else if user.has_password { "active" } else { "no password yet" };
    view! {
        <tr data-username=user.username.clone()>
            <td>{user.username.clone()}</td>
            <td>
                <ActionForm action=update attr:class="row-form">
                    <input type="hidden" name="id" value=id/>
                    <select name="role" aria-label=role_label>
                        {Role::ALL.iter().map(|&r| view! { <option value=r.as_str() selected=r == current_role>{r.as_str()}</option> }).collect_view()}
                    </select>
                    <button type="submit">"Set role"</button>
                </ActionForm>
            </td>
            <td>{status}</td>
            <td>
                {if user.has_second_factor {
                    view! {
                        <ActionForm action=unenroll attr:class="row-form">
                            <input type="hidden" name="id" value=id4/>
                            "on " <button type="submit">"Remove"</button>
                        </ActionForm>
                    }.into_any()
                } else {
                    view! { <span class="muted">"off"</span> }.into_any()
                }}
            </td>
            <td>{user.last_login_at.clone().unwrap_or_else(|| "never".into())}</td>
            <td class="actions">
                <ActionForm action=update attr:class="row-form">
                    <input type="hidden" name="id" value=id2/>
                    <input type="hidden" name="disabled" value=if user.disabled { "false" } else { "true" }/>
                    <button type="submit">{if user.disabled { "Enable" } else { "Disable" }}</button>
                </ActionForm>
                <ActionForm action=delete attr:class="row-form">
                    <input type="hidden" name="id" value=id3/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
