//! Seeding: registrations as the mobile SDKs would create them, deterministic for a seed.
//!
//! Per-registration memory stays small: the SDK-filled system data is drawn from a few hundred
//! shared [`SystemProfile`]s and a registration stores only the profile's index. The first
//! registration is the doc's GET example, so the doc's requests are reproducible against the
//! simulator (choice `seed.unpersonalized_devices`). This module must not do I/O or HTTP.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use super::MockError;
use super::catalog::{AppEntry, SystemProfile};
use super::state::{Registration, State};
use crate::api::docs;
use crate::seeded::Rng;

/// Number of generated system-data profiles (plus the doc's own one).
const GENERATED_PROFILES: usize = 512;

/// The seed's own stream: [`Rng`] salted, so the simulator's seed 0 and a generated run's seed 0
/// draw different values.
fn salted(seed: u64) -> Rng {
    Rng::new(seed ^ 0x5EED_5EED_5EED_5EED)
}

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.index(items.len())]
}

const ANDROID_DEVICES: &[(&str, &[&str], &str)] = &[
    (
        "samsung",
        &["SM-G991B", "SM-A525F", "SM-S918B", "SM-A146P"],
        "GCM",
    ),
    ("Google", &["Pixel 7", "Pixel 8 Pro", "Pixel 6a"], "GCM"),
    ("Xiaomi", &["2201117TG", "M2101K6G", "23049PCD8G"], "GCM"),
    ("HUAWEI", &["ANE-LX1", "ELS-NX9", "NOH-NX9"], "HMS"),
    ("OnePlus", &["CPH2449", "LE2123"], "GCM"),
];
const ANDROID_VERSIONS: &[&str] = &["10", "11", "12", "13", "14", "8.0.0"];
const ANDROID_SDK: &[&str] = &["2.0.9.1", "6.4.2", "12.5.0", "13.1.0"];
const IOS_MODELS: &[&str] = &[
    "iPhone12,1",
    "iPhone13,2",
    "iPhone14,5",
    "iPhone15,2",
    "iPhone16,1",
];
const IOS_VERSIONS: &[&str] = &["15.7", "16.6", "17.4", "17.5.1", "18.0"];
const IOS_SDK: &[&str] = &["10.2.1", "12.8.0", "13.0.3"];
const APP_VERSIONS: &[&str] = &["1.16.0-SNAPSHOT", "1.16.0", "1.17.2", "2.0.0"];
const LANGUAGES: &[&str] = &["en", "de", "fr", "es", "hr", "ru", "pt", "it"];
const OFFSETS: &[&str] = &[
    "GMT+00:00",
    "GMT+01:00",
    "GMT+02:00",
    "GMT+03:00",
    "GMT-05:00",
    "GMT+05:30",
    "GMT+09:00",
];

fn generated_profile(rng: &mut Rng) -> SystemProfile {
    let android = rng.chance_of(0.55);
    let (os, cloud, manufacturer, model, os_version, sdk) = if android {
        let (manufacturer, models, cloud) = ANDROID_DEVICES[rng.index(ANDROID_DEVICES.len())];
        (
            "Android",
            cloud,
            manufacturer,
            pick(rng, models),
            pick(rng, ANDROID_VERSIONS),
            pick(rng, ANDROID_SDK),
        )
    } else {
        (
            "iOS",
            "APNS",
            "Apple",
            pick(rng, IOS_MODELS),
            pick(rng, IOS_VERSIONS),
            pick(rng, IOS_SDK),
        )
    };
    SystemProfile {
        cloud_type: cloud.to_owned(),
        notifications_enabled: rng.chance_of(0.85),
        geofencing_sdk: rng.chance_of(0.1),
        sdk_version: sdk.to_owned(),
        app_version: pick(rng, APP_VERSIONS).to_owned(),
        os: os.to_owned(),
        os_version: os_version.to_owned(),
        device_manufacturer: manufacturer.to_owned(),
        device_model: model.to_owned(),
        device_secure: rng.chance_of(0.8),
        os_language: pick(rng, LANGUAGES).to_owned(),
        device_timezone_offset: pick(rng, OFFSETS).to_owned(),
        device_name: if android { model } else { "iPhone" }.to_owned(),
    }
}

/// The doc's GET example: its registration ID and its system data.
fn doc_registration() -> Result<(String, SystemProfile), MockError> {
    let fixture = |message: String| MockError::Fixture {
        name: "get-response",
        message,
    };
    let example = docs::example("get-response").ok_or_else(|| fixture("missing".into()))?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Example {
        registration_id: String,
        system_data: SystemProfile,
    }
    let parsed: Example = serde_json::from_str(example.json).map_err(|e| fixture(e.to_string()))?;
    Ok((parsed.registration_id, parsed.system_data))
}

/// An upper-case UUID v4 string.
fn uuid(rng: &mut Rng) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let hi = rng.next_u64();
    let lo = rng.next_u64();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0F)]));
    }
    out
}

/// The system-data profiles registrations point at: the doc's example first, then generated
/// ones. Deterministic for a seed; shared, never mutated.
pub(crate) fn profiles(seed: u64) -> Result<Arc<[SystemProfile]>, MockError> {
    let (_, doc_profile) = doc_registration()?;
    let mut profiles = Vec::with_capacity(GENERATED_PROFILES + 1);
    profiles.push(doc_profile);
    let mut rng = salted(seed);
    for _ in 0..GENERATED_PROFILES {
        profiles.push(generated_profile(&mut rng));
    }
    Ok(profiles.into())
}

/// The generator for registration IDs: the seed's stream right after the profiles' draws, so a
/// seed always gives the same IDs (other tests and snapshots pin some of them).
fn id_rng(seed: u64) -> Rng {
    let mut rng = salted(seed);
    for _ in 0..GENERATED_PROFILES {
        generated_profile(&mut rng);
    }
    rng
}

/// Builds the seeded state: `count` registrations spread over `apps` round-robin, none
/// personalized, pointing at `profiles` (from [`profiles`]). Deterministic for a given `seed`.
pub(crate) fn seeded_state(
    apps: Arc<[AppEntry]>,
    profiles: Arc<[SystemProfile]>,
    seed: u64,
    count: usize,
) -> Result<State, MockError> {
    let mut rng = id_rng(seed);
    let (doc_id, _) = doc_registration()?;
    let generated = profiles.len().saturating_sub(1).max(1);
    let mut registrations = Vec::with_capacity(count);
    let mut by_id: HashMap<Arc<str>, u32> = HashMap::with_capacity(count);
    let app_count = apps.len();
    for i in 0..count {
        let (id, profile) = if i == 0 {
            (doc_id.clone(), 0)
        } else {
            (uuid(&mut rng), 1 + rng.index(generated) as u32)
        };
        let id: Arc<str> = Arc::from(id);
        let index = registrations.len() as u32;
        if by_id.insert(Arc::clone(&id), index).is_some() {
            // A 122-bit collision: skip it rather than break uniqueness.
            continue;
        }
        registrations.push(Registration {
            id,
            app: (i % app_count) as u16,
            profile,
            is_primary: false,
            registration_enabled: true,
            person: None,
            additional: None,
        });
    }
    Ok(State::new(apps, profiles, registrations, by_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apps() -> Arc<[AppEntry]> {
        Arc::from(vec![AppEntry {
            app_code: "a".into(),
            application_id: Arc::from("A"),
        }])
    }

    #[test]
    fn seeding_is_deterministic_and_starts_with_the_doc_example() {
        let a = seeded_state(apps(), profiles(7).unwrap(), 7, 50).unwrap();
        let b = seeded_state(apps(), profiles(7).unwrap(), 7, 50).unwrap();
        let c = seeded_state(apps(), profiles(8).unwrap(), 8, 50).unwrap();
        assert_eq!(a.list(0, 50).1, b.list(0, 50).1);
        assert_ne!(a.list(1, 49).1, c.list(1, 49).1);
        assert_eq!(
            &*a.list(0, 1).1[0].0,
            "8621824C-86B2-41F7-BF6F-20D3B1426005"
        );
        assert_eq!(a.len(), 50);
    }

    #[test]
    fn uuids_are_v4_shaped() {
        let id = uuid(&mut salted(1));
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
