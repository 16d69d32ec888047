//! What the simulator puts on the wire: registration and person bodies, and the three error
//! shapes of `api-facts.md`, serialized with serde.
//!
//! Field names here are the API's JSON names; the rules about them (types, limits) live in
//! `schemas/`, and the integration tests validate every body built here against those schemas in
//! lenient and strict mode. This module must not decide anything: it renders what `state` and
//! `rules` decided.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct, Serializer};

use super::catalog::{AppEntry, SystemProfile};
use super::state::{AttrValue, Attrs, PersonView, RegistrationView};

/// The immutable tables registration views point into.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Catalog<'a> {
    pub apps: &'a [AppEntry],
    pub profiles: &'a [SystemProfile],
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AttrValue::Str(v) => s.serialize_str(v),
            AttrValue::Num(n) => n.serialize(s),
            AttrValue::Bool(b) => s.serialize_bool(*b),
        }
    }
}

/// Custom attributes as a JSON object.
struct AttrMap<'a>(&'a Attrs);

impl Serialize for AttrMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(&**k, v)?;
        }
        map.end()
    }
}

/// A registration body. `application_id: false` drops the required `applicationId` (the
/// break-responses fault).
pub(crate) struct RegistrationBody<'a> {
    pub view: &'a RegistrationView,
    pub catalog: Catalog<'a>,
    pub with_application_id: bool,
}

impl Serialize for RegistrationBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.view;
        let unknown = |what: &str| serde::ser::Error::custom(format!("unknown {what} index"));
        let p = self
            .catalog
            .profiles
            .get(v.profile as usize)
            .ok_or_else(|| unknown("profile"))?;
        let app = self
            .catalog
            .apps
            .get(usize::from(v.app))
            .ok_or_else(|| unknown("application"))?;
        let mut st = s.serialize_struct("Registration", 5)?;
        st.serialize_field("registrationId", &*v.id)?;
        if self.with_application_id {
            st.serialize_field("applicationId", &*app.application_id)?;
        } else {
            st.skip_field("applicationId")?;
        }
        st.serialize_field("isPrimary", &v.is_primary)?;
        if let Some(additional) = &v.additional {
            st.serialize_field("additionalData", &AttrMap(additional))?;
        } else {
            st.skip_field("additionalData")?;
        }
        st.serialize_field("systemData", &SystemData::new(p, v.registration_enabled))?;
        st.end()
    }
}

/// The shared parts of registration bodies, rendered once: every profile's `systemData` (with
/// `registrationEnabled` false and true) and every application's quoted `applicationId`. The hot
/// GET/PATCH path then only formats the per-registration fields; a unit test checks the result
/// is byte-identical to [`RegistrationBody`]'s serde rendering.
#[derive(Debug)]
pub(crate) struct Prerendered {
    system_data: Vec<[Vec<u8>; 2]>,
    application_ids: Vec<Vec<u8>>,
}

impl Prerendered {
    pub fn new(
        apps: &[AppEntry],
        profiles: &[SystemProfile],
    ) -> Result<Prerendered, serde_json::Error> {
        let system_data = profiles
            .iter()
            .map(|p| {
                Ok([
                    serde_json::to_vec(&SystemData::new(p, false))?,
                    serde_json::to_vec(&SystemData::new(p, true))?,
                ])
            })
            .collect::<Result<_, serde_json::Error>>()?;
        let application_ids = apps
            .iter()
            .map(|a| serde_json::to_vec(&*a.application_id))
            .collect::<Result<_, _>>()?;
        Ok(Prerendered {
            system_data,
            application_ids,
        })
    }

    /// Appends the registration's JSON to `out`, like [`RegistrationBody`] does.
    pub fn write_registration(
        &self,
        out: &mut Vec<u8>,
        view: &RegistrationView,
        with_application_id: bool,
    ) -> Result<(), serde_json::Error> {
        let unknown = |what: &str| serde::ser::Error::custom(format!("unknown {what} index"));
        let system = self
            .system_data
            .get(view.profile as usize)
            .ok_or_else(|| unknown("profile"))?;
        out.extend_from_slice(b"{\"registrationId\":");
        serde_json::to_writer(&mut *out, &*view.id)?;
        if with_application_id {
            let id = self
                .application_ids
                .get(usize::from(view.app))
                .ok_or_else(|| unknown("application"))?;
            out.extend_from_slice(b",\"applicationId\":");
            out.extend_from_slice(id);
        }
        out.extend_from_slice(if view.is_primary {
            b",\"isPrimary\":true"
        } else {
            b",\"isPrimary\":false"
        });
        if let Some(additional) = &view.additional {
            out.extend_from_slice(b",\"additionalData\":");
            serde_json::to_writer(&mut *out, &AttrMap(additional))?;
        }
        out.extend_from_slice(b",\"systemData\":");
        out.extend_from_slice(&system[usize::from(view.registration_enabled)]);
        out.push(b'}');
        Ok(())
    }
}

impl<'a> SystemData<'a> {
    fn new(p: &'a SystemProfile, registration_enabled: bool) -> SystemData<'a> {
        SystemData {
            cloud_type: &p.cloud_type,
            registration_enabled,
            notifications_enabled: p.notifications_enabled,
            geofencing_sdk: p.geofencing_sdk,
            sdk_version: &p.sdk_version,
            app_version: &p.app_version,
            os: &p.os,
            os_version: &p.os_version,
            device_manufacturer: &p.device_manufacturer,
            device_model: &p.device_model,
            device_secure: p.device_secure,
            os_language: &p.os_language,
            device_timezone_offset: &p.device_timezone_offset,
            device_name: &p.device_name,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SystemData<'a> {
    cloud_type: &'a str,
    registration_enabled: bool,
    notifications_enabled: bool,
    geofencing_sdk: bool,
    sdk_version: &'a str,
    app_version: &'a str,
    os: &'a str,
    os_version: &'a str,
    device_manufacturer: &'a str,
    device_model: &'a str,
    device_secure: bool,
    os_language: &'a str,
    device_timezone_offset: &'a str,
    device_name: &'a str,
}

/// The personalize response: the person, plural contact keys.
pub(crate) struct PersonBody<'a> {
    pub view: &'a PersonView,
    pub catalog: Catalog<'a>,
    pub with_application_id: bool,
}

impl Serialize for PersonBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = &self.view.person;
        let mut st = s.serialize_struct("Person", 10)?;
        macro_rules! optional {
            ($name:literal, $value:expr) => {
                match $value {
                    Some(v) => st.serialize_field($name, v)?,
                    None => st.skip_field($name)?,
                }
            };
        }
        optional!("externalId", &p.external_id);
        st.serialize_field("type", &p.kind)?;
        optional!("firstName", &p.fields.first_name);
        optional!("lastName", &p.fields.last_name);
        optional!("middleName", &p.fields.middle_name);
        optional!("birthday", &p.fields.birthday);
        optional!("gender", &p.fields.gender);
        optional!("tags", &p.fields.tags);
        if p.custom.is_empty() {
            st.skip_field("customAttributes")?;
        } else {
            st.serialize_field("customAttributes", &AttrMap(&p.custom))?;
        }
        st.serialize_field(
            "contactInformation",
            &Contact {
                phones: p.phones.iter().map(|number| Phone { number }).collect(),
                emails: p.emails.iter().map(|address| Email { address }).collect(),
                push: self.view.push.as_ref().map(|list| {
                    list.iter()
                        .map(|view| RegistrationBody {
                            view,
                            catalog: self.catalog,
                            with_application_id: self.with_application_id,
                        })
                        .collect()
                }),
            },
        )?;
        st.end()
    }
}

#[derive(Serialize)]
struct Contact<'a> {
    phones: Vec<Phone<'a>>,
    emails: Vec<Email<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    push: Option<Vec<RegistrationBody<'a>>>,
}

#[derive(Serialize)]
struct Phone<'a> {
    number: &'a str,
}

#[derive(Serialize)]
struct Email<'a> {
    address: &'a str,
}

/// Error shape 1: push-specific, HTTP 400.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushError<'a> {
    pub error_code: i64,
    pub error_message: &'a str,
}

/// Error shape 2: legacy.
pub(crate) struct LegacyError<'a> {
    pub message_id: &'a str,
    pub text: &'a str,
    /// Field → messages; omitted when empty.
    pub validation_errors: BTreeMap<String, Vec<String>>,
}

impl Serialize for LegacyError<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Exception<'a> {
            message_id: &'a str,
            text: &'a str,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            validation_errors: &'a BTreeMap<String, Vec<String>>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct RequestError<'a> {
            service_exception: Exception<'a>,
        }
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(
            "requestError",
            &RequestError {
                service_exception: Exception {
                    message_id: self.message_id,
                    text: self.text,
                    validation_errors: &self.validation_errors,
                },
            },
        )?;
        map.end()
    }
}

/// Error shape 3: the newer API error (used for 429, choice `rate_limit.api_error_shape`).
#[derive(Serialize)]
pub(crate) struct ApiError<'a> {
    #[serde(rename = "errorCode")]
    pub error_code: &'a str,
    pub description: &'a str,
    pub action: &'a str,
    pub violations: [(); 0],
    pub resources: [(); 0],
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::mock::seed::profiles;
    use crate::mock::state::AttrValue;

    #[test]
    fn prerendered_registrations_equal_the_serde_rendering() {
        let apps = vec![AppEntry {
            app_code: "a".into(),
            application_id: Arc::from("APP\"1"),
        }];
        let profiles = profiles(3).unwrap();
        let pre = Prerendered::new(&apps, &profiles).unwrap();
        let catalog = Catalog {
            apps: &apps,
            profiles: &profiles,
        };
        for (profile, additional) in [
            (0, None),
            (
                7,
                Some(Attrs::from([("k\u{e9}y".into(), AttrValue::Bool(true))])),
            ),
        ] {
            for (primary, enabled, with_id) in [(true, false, true), (false, true, false)] {
                let view = RegistrationView {
                    id: Arc::from("id-\"quoted\"-\u{1F600}"),
                    app: 0,
                    is_primary: primary,
                    registration_enabled: enabled,
                    profile,
                    additional: additional.clone(),
                };
                let mut fast = Vec::new();
                pre.write_registration(&mut fast, &view, with_id).unwrap();
                let slow = serde_json::to_vec(&RegistrationBody {
                    view: &view,
                    catalog,
                    with_application_id: with_id,
                })
                .unwrap();
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    String::from_utf8(slow).unwrap()
                );
            }
        }
    }
}
