// Phone numbers: turning what people and CRMs write into E.164 ("+14155552671"), checking E.164,
// and where a number is (region, time zones) for calling windows. Backed by libphonenumber.
//
//   PARLEY_ASSIGN_OR_RETURN(std::string to, parley::phone::NormalizeE164("(415) 555-2671", "US"));
//   // to == "+14155552671"
//   parley::phone::IsE164(to);        // true
//   parley::phone::RegionOf(to);      // "US"
//   parley::phone::TimeZonesOf(to);   // {"America/Los_Angeles"}
//
// Every function is thread-safe (libphonenumber's PhoneNumberUtil is an immutable singleton).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace parley::phone {

// Parses a number written the way people write them — "(415) 555-2671" (national, read in
// `default_region`), "+44 20 7946 0958", "00 49 30 901820" / "011 49 30 901820" (international
// dialling prefixes; "00" is understood even where the region's prefix is another),
// "tel:+1-415-555-2671" — and returns it as E.164 ("+14155552671").
//
// `default_region` is an ISO 3166 code ("US", case-insensitive) used for numbers without a country
// code; empty means none (such numbers are then rejected). `field` names the input in errors.
// Fails with INVALID_ARGUMENT:
//   "region: unknown region \"XX\""                       default_region is not a known region;
//   "<field>: empty"                                      only whitespace;
//   "<field>: cannot parse \"…\" as a phone number…"     not a number (letters — vanity numbers
//       like 1-800-FLOWERS are refused —, too few or too many digits, unknown country code, no
//       country code and no default region; a short reason may follow);
//   "<field>: not a valid number for region US"           parses, but no such number exists in
//       that region's numbering plan (the region of its country code when it has one), or
//       " (more than 15 digits)" after it when the number would be longer than E.164 allows;
//   "<field>: extensions are not supported"               "… ext. 12": E.164 cannot carry one.
absl::StatusOr<std::string> NormalizeE164(std::string_view input, std::string_view default_region,
                                          std::string_view field = "to");

// True when `number` is strictly E.164 — '+', a non-zero digit, 7 to 15 digits in all, nothing
// else — and a valid number per libphonenumber.
bool IsE164(std::string_view number);

// Returns the ISO 3166 region of an E.164 number ("US", "GB", "CA"; for shared country codes the
// region whose plan the number belongs to), or "" when it does not parse or is not valid.
std::string RegionOf(std::string_view e164);

// Returns the IANA time zones the holder of an E.164 number is likely in, most likely first;
// empty when unknown. Debian's libphonenumber ships no time-zone mapper, so this uses Parley's own
// tables (time_zone_table.h):
//   - +1 US/CA numbers by area code (every geographic area code of libphonenumber 8.12.57; codes
//     that cross a zone line list both zones, e.g. 850 → America/Chicago, America/New_York);
//     non-geographic codes (800, 888, 500…) → empty;
//   - other countries by region, when the country is (practically) in one zone (GB →
//     Europe/London, DE → Europe/Berlin) or in a main zone plus islands (ES → Europe/Madrid,
//     Atlantic/Canary);
//   - countries spanning several zones without a table (RU, AU, BR, MX, ID, KZ…) → empty.
// A mobile number's zone is where it was issued, not where its holder is now. Empty as well when
// `e164` is not a valid E.164 number.
std::vector<std::string> TimeZonesOf(std::string_view e164);

}  // namespace parley::phone
