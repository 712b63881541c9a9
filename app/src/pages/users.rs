//! User administration (admins only; the core refuses everyone else).

use leptos::prelude::*;

use crate::components::{ErrorPanel, PageHeader, form_error};
use crate::dto::UserRow;
use crate::error::AppError;

pub const ROLES: [&str; 4] = ["viewer", "operator", "approver", "admin"];

#[cfg(feature = "ssr")]
mod ssr {
    use bulwark_core::platform::auth::Role;
    use bulwark_core::platform::accounts::users::User;

    use crate::dto::UserRow;
    use crate::error::AppError;

    pub fn row(u: User) -> UserRow {
        UserRow {
            id: u.id,
            username: u.username,
            role: u.role,
            disabled: u.disabled != 0,
            has_password: u.has_password != 0,
            has_second_factor: u.has_second_factor != 0,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
        }
    }

    pub fn role(text: &str) -> Result<Role, AppError> {
        Role::parse(text).map_err(AppError::from_core)
    }
}

#[server(prefix = "/_sfn", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserRow>, AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let users = bulwark_core::platform::accounts::users::list(&catalog, &p).await.map_err(AppError::from_core)?;
    Ok(users.into_iter().map(ssr::row).collect())
}

#[server(prefix = "/_sfn", endpoint = "create_user")]
pub async fn create_user(username: String, role: String, password: String) -> Result<UserRow, AppError> {
    use bulwark_core::platform::accounts::users::{self, NewUser};
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let new = NewUser { username: username.trim().to_string(), password: Some(password), role: ssr::role(&role)? };
    users::create(&catalog, &p, new).await.map(ssr::row).map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "update_user")]
pub async fn update_user(id: String, role: Option<String>, disabled: Option<String>) -> Result<UserRow, AppError> {
    use bulwark_core::platform::accounts::users::{self, UserUpdate};
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    let change = UserUpdate {
        role: role.as_deref().map(ssr::role).transpose()?,
        disabled: disabled.map(|d| d == "true"),
    };
    users::update(&catalog, &p, &id, change).await.map(ssr::row).map_err(AppError::from_core)
}

#[server(prefix = "/_sfn", endpoint = "delete_user")]
pub async fn delete_user(id: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    bulwark_core::platform::accounts::users::delete(&catalog, &p, &id).await.map_err(AppError::from_core)
}

/// For a user who lost their authenticator: they log in with the password alone until they set
/// up a new one.
#[server(prefix = "/_sfn", endpoint = "remove_user_second_factor")]
pub async fn remove_user_second_factor(id: String) -> Result<(), AppError> {
    let p = crate::ssr::principal().await?;
    let catalog = crate::ssr::catalog()?;
    bulwark_core::platform::accounts::totp::remove(&catalog, &crate::ssr::secrets()?, &p, &id, None).await.map_err(AppError::from_core)
}

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
                                        {ROLES.iter().map(|r| view! { <option value=*r>{*r}</option> }).collect_view()}
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
    let current_role = user.role.clone();
    let role_label = format!("Role of {}", user.username);
    let status = if user.disabled { "disabled" } else if user.has_password { "active" } else { "no password yet" };
    view! {
        <tr data-username=user.username.clone()>
            <td>{user.username.clone()}</td>
            <td>
                <ActionForm action=update attr:class="row-form">
                    <input type="hidden" name="id" value=id/>
                    <select name="role" aria-label=role_label>
                        {ROLES.iter().map(|r| view! { <option value=*r selected=*r == current_role>{*r}</option> }).collect_view()}
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
