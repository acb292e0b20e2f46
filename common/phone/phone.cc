#include "common/phone/phone.h"

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/phone/time_zone_table.h"
#include "common/status/status.h"

namespace parley::phone {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// libphonenumber's code for "no region": numbers must then carry a country code.
constexpr char kNoRegion[] = "ZZ";
constexpr std::string_view kTelPrefix = "tel:";

const PhoneNumberUtil& Util() { return *PhoneNumberUtil::GetInstance(); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

bool HasTelPrefix(std::string_view s) {
  return s.size() >= kTelPrefix.size() &&
         absl::EqualsIgnoreCase(AbslView(s.substr(0, kTelPrefix.size())), AbslView(kTelPrefix));
}

// The input as quoted in an error: control characters replaced, at most 40 bytes.
std::string Quote(std::string_view input) {
  constexpr size_t kMax = 40;
  std::string out;
  for (char c : input.substr(0, kMax)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (input.size() > kMax) {
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    out += "…";
  }
  return absl::StrCat("\"", out, "\"");
}

absl::Status CannotParse(std::string_view field, std::string_view input, std::string_view why) {
  return InvalidField(
      field, absl::StrCat("cannot parse ", Quote(input), " as a phone number", AbslView(why)));
}

// The region a number belongs to for messages: the default region when the number is in its
// country code, else the main region of the number's country code ("001" for non-geographic
// codes is spelled "+800"-style).
std::string RegionForMessage(const PhoneNumber& number, const std::string& default_region) {
  if (default_region != kNoRegion &&
      Util().GetCountryCodeForRegion(default_region) == number.country_code()) {
    return default_region;
  }
  std::string region;
  Util().GetRegionCodeForCountryCode(number.country_code(), &region);
  if (region == kNoRegion || region == "001") return absl::StrCat("+", number.country_code());
  return region;
}

// "00" is the international prefix in most of the world; accept it also where the region's own
// prefix is another (the US dials 011, and no US national number starts with 0) or no region is
// given. True when `input` starts with "00" and is a valid international number read that way.
bool ParseDoubleZero(std::string_view input, PhoneNumber* number) {
  if (input.substr(0, 2) != "00") return false;
  PhoneNumber international;
  if (Util().Parse(absl::StrCat("+", AbslView(input.substr(2))), kNoRegion, &international) !=
          PhoneNumberUtil::NO_PARSING_ERROR ||
      !Util().IsValidNumber(international)) {
    return false;
  }
  *number = international;
  return true;
}

// Parses a strict E.164 string; false when it is not one (format) or does not parse.
bool ParseE164(std::string_view e164, PhoneNumber* number) {
  if (e164.size() < 8 || e164.size() > 16 || e164[0] != '+' || e164[1] < '1' || e164[1] > '9') {
    return false;
  }
  for (char c : e164.substr(1)) {
    if (c < '0' || c > '9') return false;
  }
  if (Util().Parse(std::string(e164), kNoRegion, number) != PhoneNumberUtil::NO_PARSING_ERROR) {
    return false;
  }
  std::string formatted;
  Util().Format(*number, PhoneNumberUtil::E164, &formatted);
  return formatted == e164;
}

// A NANP number already in E.164 ("+1" and ten digits, the first 2-9) — what a CRM usually sends
// — read without Parse, whose dozen ICU regular expressions were half of CreateCall's admission
// CPU. For these Parse ends with the same PhoneNumber: country code 1 and the ten digits, as no
// NANP national number starts with the national prefix 1 and nothing else can be stripped.
// False for any other input (the caller parses it).
bool ParseNanpE164(std::string_view s, PhoneNumber* number) {
  if (s.size() != 12 || s[0] != '+' || s[1] != '1' || s[2] < '2' || s[2] > '9') return false;
  uint64_t national = 0;
  for (char c : s.substr(2)) {
    if (c < '0' || c > '9') return false;
    national = national * 10 + static_cast<uint64_t>(c - '0');
  }
  number->set_country_code(1);
  number->set_national_number(national);
  return true;
}

// IsValidNumber for a +1 number, trying the US first: the US is the first region of calling code
// 1 and has no leading-digits pattern, so IsValidNumber picks it exactly when the number is valid
// for the US, and then answers true; checking that directly saves a second pass over the US
// patterns. Other NANP numbers (CA, the Caribbean) take the full check.
bool IsValidNanp(const PhoneNumber& number) {
  return Util().IsValidNumberForRegion(number, "US") || Util().IsValidNumber(number);
}

}  // namespace

absl::StatusOr<std::string> NormalizeE164(std::string_view input, std::string_view default_region,
                                          std::string_view field) {
  std::string region = absl::AsciiStrToUpper(AbslView(Trim(default_region)));
  if (region.empty()) {
    region = kNoRegion;
  } else if (Util().GetCountryCodeForRegion(region) == 0) {
    return InvalidField("region", absl::StrCat("unknown region ", Quote(default_region)));
  }

  const std::string_view trimmed = Trim(input);
  if (trimmed.empty()) return InvalidField(field, "empty");
  if (PhoneNumber nanp; ParseNanpE164(trimmed, &nanp) && IsValidNanp(nanp)) {
    return std::string(trimmed);  // already the E.164 form Format would give
  }
  // libphonenumber reads letters as keypad digits (1-800-FLOWERS) and words as extensions ("ext",
  // "x"); a dialler must not guess, so anything but the "tel:" scheme with a letter is refused.
  const std::string_view body = HasTelPrefix(trimmed) ? trimmed.substr(kTelPrefix.size()) : trimmed;
  for (char c : body) {
    if (absl::ascii_isalpha(static_cast<unsigned char>(c))) return CannotParse(field, input, "");
  }

  PhoneNumber number;
  auto error = Util().Parse(std::string(trimmed), region, &number);
  bool valid = error == PhoneNumberUtil::NO_PARSING_ERROR && Util().IsValidNumber(number);
  if (!valid && ParseDoubleZero(Trim(body), &number)) {
    error = PhoneNumberUtil::NO_PARSING_ERROR;
    valid = true;
  }
  if (error == PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR) {
    const bool international = body.find('+') != std::string_view::npos;
    return CannotParse(field, input,
                       international || region != kNoRegion
                           ? " (unknown country code)"
                           : " (no country code, and no default region to assume one)");
  }
  if (error != PhoneNumberUtil::NO_PARSING_ERROR) return CannotParse(field, input, "");
  if (!valid) {
    return InvalidField(
        field, absl::StrCat("not a valid number for region ", RegionForMessage(number, region)));
  }
  if (number.has_extension()) return InvalidField(field, "extensions are not supported");

  std::string e164;
  Util().Format(number, PhoneNumberUtil::E164, &e164);
  // libphonenumber's metadata accepts national numbers that, with their country code, are longer
  // than E.164's 15 digits (German ones of up to 15 national digits): IsE164 refuses those, so
  // returning one would hand the caller a number nothing downstream accepts.
  if (e164.size() > 16) {
    return InvalidField(
        field, absl::StrCat("not a valid number for region ", RegionForMessage(number, region),
                            " (more than 15 digits)"));
  }
  // And some short ones ("004311-10" is +431110, a Vienna number by the metadata) that IsE164
  // refuses as fewer than 7 digits (found by the phone_normalize fuzz target).
  if (e164.size() < 8) {
    return InvalidField(
        field, absl::StrCat("not a valid number for region ", RegionForMessage(number, region),
                            " (fewer than 7 digits)"));
  }
  // Parse strips a national prefix even after a country code, so an input carrying the prefix
  // twice ("+52 1 1 675 212 4671": Mexico's old mobile "1", doubled) gives an E.164 that reads
  // back as another number (+5216752124671 parses as +526752124671). The caller stores and
  // dials what we return, and every later check reads it with IsE164: refuse what it rejects
  // (which also makes NormalizeE164 idempotent on its own results).
  if (!IsE164(e164)) {
    return InvalidField(
        field, absl::StrCat("not a valid number for region ", RegionForMessage(number, region),
                            " (its E.164 form ", e164, " reads back as another number)"));
  }
  return e164;
}

bool IsE164(std::string_view number) {
  PhoneNumber parsed;
  if (ParseNanpE164(number, &parsed) && IsValidNanp(parsed)) return true;
  return ParseE164(number, &parsed) && Util().IsValidNumber(parsed);
}

std::string RegionOf(std::string_view e164) {
  PhoneNumber parsed;
  if (!ParseE164(e164, &parsed) || !Util().IsValidNumber(parsed)) return "";
  std::string region;
  Util().GetRegionCodeForNumber(parsed, &region);
  return region == kNoRegion || region == "001" ? "" : region;
}

std::vector<std::string> TimeZonesOf(std::string_view e164) {
  PhoneNumber parsed;
  if (!ParseE164(e164, &parsed) || !Util().IsValidNumber(parsed)) return {};
  std::string region;
  Util().GetRegionCodeForNumber(parsed, &region);
  if (region == "US" || region == "CA") {
    // NANP national numbers are NPA-NXX-XXXX: the area code is the first three of ten digits.
    return ZonesForNanpAreaCode(static_cast<int>(parsed.national_number() / 10'000'000));
  }
  return ZonesForRegion(region);
}

}  // namespace parley::phone
