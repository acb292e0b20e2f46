#include "common/phone/time_zone_table.h"

#include <array>
#include <sstream>

#include "absl/container/flat_hash_map.h"

namespace parley::phone {
namespace {

// Up to three zones; unused slots are null.
using Zones = std::array<const char*, 3>;

// Geographic area codes of the US and Canada by the zone that covers them, generated from
// libphonenumber 8.12.57's geocoding data (area code → state or province) and the zone of each
// state; Indiana, Kentucky, Tennessee, Texas (El Paso) and Michigan assigned per area code.
struct ZoneAreaCodes {
  const char* zone;
  const char* area_codes;  // space-separated
};
constexpr ZoneAreaCodes kAreaCodesByZone[] = {
    {"America/New_York",
     "201 202 203 207 212 215 216 220 223 229 234 239 240 252 267 272 276 283 301 302 304 305 315 "
     "321 326 330 332 336 339 347 351 352 380 386 401 404 407 410 412 413 419 423 434 440 443 445 "
     "470 475 478 484 502 508 513 516 518 540 551 561 567 570 571 582 585 603 606 607 609 610 614 "
     "617 631 640 646 656 667 678 680 681 689 703 704 706 716 717 718 724 727 732 740 743 754 757 "
     "762 770 771 772 774 781 786 802 803 804 813 814 826 828 838 839 843 845 848 854 856 857 859 "
     "860 862 863 864 865 878 904 908 910 912 914 917 919 929 934 937 941 943 948 954 959 973 978 "
     "980 984"},
    {"America/Detroit", "231 248 269 313 517 586 616 734 810 947 989"},
    {"America/Indiana/Indianapolis", "260 317 463 574 765"},
    {"America/Chicago",
     "205 210 214 217 218 219 224 225 228 251 254 256 262 281 309 312 314 316 318 319 320 325 331 "
     "334 337 346 361 402 405 409 414 417 430 432 447 464 469 479 501 504 507 512 515 531 534 539 "
     "563 572 573 580 601 608 612 615 618 620 629 630 636 641 651 659 660 662 682 708 712 713 715 "
     "726 731 737 763 769 773 779 785 806 815 816 817 830 832 847 870 872 901 903 913 918 920 931 "
     "936 938 940 945 952 956 972 979 985"},
    {"America/Denver", "303 307 385 406 435 505 575 719 720 801 915 970"},
    {"America/Phoenix", "480 520 602 623 928"},
    {"America/Los_Angeles",
     "206 209 213 253 279 310 323 341 360 408 415 424 425 442 458 503 509 510 530 541 559 562 564 "
     "619 626 628 650 657 661 669 702 707 714 725 747 760 775 805 818 820 831 840 858 909 916 925 "
     "949 951 971"},
    {"America/Anchorage", "907"},
    {"Pacific/Honolulu", "808"},
    {"America/St_Johns", "709"},
    {"America/Halifax", "782 902"},
    {"America/Moncton", "506"},
    {"America/Toronto",
     "226 249 263 289 343 365 367 416 418 437 438 450 468 514 519 548 579 581 613 647 705 742 753 "
     "819 873 905"},
    {"America/Winnipeg", "204 431 584"},
    {"America/Regina", "306 474 639"},
    {"America/Edmonton", "368 403 587 780 825"},
    {"America/Vancouver", "604"},
};

// Area codes crossing a zone line: the zone of most of their population first. Listed here and
// not above.
struct SplitAreaCode {
  int area_code;
  Zones zones;
};
constexpr SplitAreaCode kSplitAreaCodes[] = {
    {208, {"America/Boise", "America/Los_Angeles"}},
    {236, {"America/Vancouver", "America/Edmonton"}},
    {250, {"America/Vancouver", "America/Edmonton"}},
    {270, {"America/Chicago", "America/New_York"}},
    {308, {"America/Chicago", "America/Denver"}},
    {364, {"America/Chicago", "America/New_York"}},
    {448, {"America/Chicago", "America/New_York"}},
    {605, {"America/Chicago", "America/Denver"}},
    {672, {"America/Vancouver", "America/Edmonton"}},
    {701, {"America/Chicago", "America/Denver"}},
    {778, {"America/Vancouver", "America/Edmonton"}},
    {807, {"America/Toronto", "America/Winnipeg"}},
    {812, {"America/Indiana/Indianapolis", "America/Chicago"}},
    {850, {"America/Chicago", "America/New_York"}},
    {867, {"America/Yellowknife", "America/Whitehorse", "America/Iqaluit"}},
    {906, {"America/Detroit", "America/Menominee"}},
    {930, {"America/Indiana/Indianapolis", "America/Chicago"}},
    {986, {"America/Boise", "America/Los_Angeles"}},
};

// Regions by zone, from tzdata's zone.tab: every country with one zone there, plus countries whose
// extra zones are enclaves or keep the same time (CN, DE, AR, MY, UA…: the main zone only) or are
// islands (ES, PT, EC, CL: main zone first). US and CA are resolved by area code instead; RU, AU,
// BR, MX, ID, KZ, MN, CD, GL, KI, FM, MH, PF, PG, UM and AQ are left out (several zones, no table).
struct RegionZones {
  const char* region;
  Zones zones;
};
constexpr RegionZones kRegionZones[] = {
    {"AD", {"Europe/Andorra"}},
    {"AE", {"Asia/Dubai"}},
    {"AF", {"Asia/Kabul"}},
    {"AG", {"America/Antigua"}},
    {"AI", {"America/Anguilla"}},
    {"AL", {"Europe/Tirane"}},
    {"AM", {"Asia/Yerevan"}},
    {"AO", {"Africa/Luanda"}},
    {"AR", {"America/Argentina/Buenos_Aires"}},
    {"AS", {"Pacific/Pago_Pago"}},
    {"AT", {"Europe/Vienna"}},
    {"AW", {"America/Aruba"}},
    {"AX", {"Europe/Mariehamn"}},
    {"AZ", {"Asia/Baku"}},
    {"BA", {"Europe/Sarajevo"}},
    {"BB", {"America/Barbados"}},
    {"BD", {"Asia/Dhaka"}},
    {"BE", {"Europe/Brussels"}},
    {"BF", {"Africa/Ouagadougou"}},
    {"BG", {"Europe/Sofia"}},
    {"BH", {"Asia/Bahrain"}},
    {"BI", {"Africa/Bujumbura"}},
    {"BJ", {"Africa/Porto-Novo"}},
    {"BL", {"America/St_Barthelemy"}},
    {"BM", {"Atlantic/Bermuda"}},
    {"BN", {"Asia/Brunei"}},
    {"BO", {"America/La_Paz"}},
    {"BQ", {"America/Kralendijk"}},
    {"BS", {"America/Nassau"}},
    {"BT", {"Asia/Thimphu"}},
    {"BW", {"Africa/Gaborone"}},
    {"BY", {"Europe/Minsk"}},
    {"BZ", {"America/Belize"}},
    {"CC", {"Indian/Cocos"}},
    {"CF", {"Africa/Bangui"}},
    {"CG", {"Africa/Brazzaville"}},
    {"CH", {"Europe/Zurich"}},
    {"CI", {"Africa/Abidjan"}},
    {"CK", {"Pacific/Rarotonga"}},
    {"CL", {"America/Santiago", "America/Punta_Arenas", "Pacific/Easter"}},
    {"CM", {"Africa/Douala"}},
    {"CN", {"Asia/Shanghai"}},
    {"CO", {"America/Bogota"}},
    {"CR", {"America/Costa_Rica"}},
    {"CU", {"America/Havana"}},
    {"CV", {"Atlantic/Cape_Verde"}},
    {"CW", {"America/Curacao"}},
    {"CX", {"Indian/Christmas"}},
    {"CY", {"Asia/Nicosia"}},
    {"CZ", {"Europe/Prague"}},
    {"DE", {"Europe/Berlin"}},
    {"DJ", {"Africa/Djibouti"}},
    {"DK", {"Europe/Copenhagen"}},
    {"DM", {"America/Dominica"}},
    {"DO", {"America/Santo_Domingo"}},
    {"DZ", {"Africa/Algiers"}},
    {"EC", {"America/Guayaquil", "Pacific/Galapagos"}},
    {"EE", {"Europe/Tallinn"}},
    {"EG", {"Africa/Cairo"}},
    {"EH", {"Africa/El_Aaiun"}},
    {"ER", {"Africa/Asmara"}},
    {"ES", {"Europe/Madrid", "Atlantic/Canary"}},
    {"ET", {"Africa/Addis_Ababa"}},
    {"FI", {"Europe/Helsinki"}},
    {"FJ", {"Pacific/Fiji"}},
    {"FK", {"Atlantic/Stanley"}},
    {"FO", {"Atlantic/Faroe"}},
    {"FR", {"Europe/Paris"}},
    {"GA", {"Africa/Libreville"}},
    {"GB", {"Europe/London"}},
    {"GD", {"America/Grenada"}},
    {"GE", {"Asia/Tbilisi"}},
    {"GF", {"America/Cayenne"}},
    {"GG", {"Europe/Guernsey"}},
    {"GH", {"Africa/Accra"}},
    {"GI", {"Europe/Gibraltar"}},
    {"GM", {"Africa/Banjul"}},
    {"GN", {"Africa/Conakry"}},
    {"GP", {"America/Guadeloupe"}},
    {"GQ", {"Africa/Malabo"}},
    {"GR", {"Europe/Athens"}},
    {"GS", {"Atlantic/South_Georgia"}},
    {"GT", {"America/Guatemala"}},
    {"GU", {"Pacific/Guam"}},
    {"GW", {"Africa/Bissau"}},
    {"GY", {"America/Guyana"}},
    {"HK", {"Asia/Hong_Kong"}},
    {"HN", {"America/Tegucigalpa"}},
    {"HR", {"Europe/Zagreb"}},
    {"HT", {"America/Port-au-Prince"}},
    {"HU", {"Europe/Budapest"}},
    {"IE", {"Europe/Dublin"}},
    {"IL", {"Asia/Jerusalem"}},
    {"IM", {"Europe/Isle_of_Man"}},
    {"IN", {"Asia/Kolkata"}},
    {"IO", {"Indian/Chagos"}},
    {"IQ", {"Asia/Baghdad"}},
    {"IR", {"Asia/Tehran"}},
    {"IS", {"Atlantic/Reykjavik"}},
    {"IT", {"Europe/Rome"}},
    {"JE", {"Europe/Jersey"}},
    {"JM", {"America/Jamaica"}},
    {"JO", {"Asia/Amman"}},
    {"JP", {"Asia/Tokyo"}},
    {"KE", {"Africa/Nairobi"}},
    {"KG", {"Asia/Bishkek"}},
    {"KH", {"Asia/Phnom_Penh"}},
    {"KM", {"Indian/Comoro"}},
    {"KN", {"America/St_Kitts"}},
    {"KP", {"Asia/Pyongyang"}},
    {"KR", {"Asia/Seoul"}},
    {"KW", {"Asia/Kuwait"}},
    {"KY", {"America/Cayman"}},
    {"LA", {"Asia/Vientiane"}},
    {"LB", {"Asia/Beirut"}},
    {"LC", {"America/St_Lucia"}},
    {"LI", {"Europe/Vaduz"}},
    {"LK", {"Asia/Colombo"}},
    {"LR", {"Africa/Monrovia"}},
    {"LS", {"Africa/Maseru"}},
    {"LT", {"Europe/Vilnius"}},
    {"LU", {"Europe/Luxembourg"}},
    {"LV", {"Europe/Riga"}},
    {"LY", {"Africa/Tripoli"}},
    {"MA", {"Africa/Casablanca"}},
    {"MC", {"Europe/Monaco"}},
    {"MD", {"Europe/Chisinau"}},
    {"ME", {"Europe/Podgorica"}},
    {"MF", {"America/Marigot"}},
    {"MG", {"Indian/Antananarivo"}},
    {"MK", {"Europe/Skopje"}},
    {"ML", {"Africa/Bamako"}},
    {"MM", {"Asia/Yangon"}},
    {"MO", {"Asia/Macau"}},
    {"MP", {"Pacific/Saipan"}},
    {"MQ", {"America/Martinique"}},
    {"MR", {"Africa/Nouakchott"}},
    {"MS", {"America/Montserrat"}},
    {"MT", {"Europe/Malta"}},
    {"MU", {"Indian/Mauritius"}},
    {"MV", {"Indian/Maldives"}},
    {"MW", {"Africa/Blantyre"}},
    {"MY", {"Asia/Kuala_Lumpur"}},
    {"MZ", {"Africa/Maputo"}},
    {"NA", {"Africa/Windhoek"}},
    {"NC", {"Pacific/Noumea"}},
    {"NE", {"Africa/Niamey"}},
    {"NF", {"Pacific/Norfolk"}},
    {"NG", {"Africa/Lagos"}},
    {"NI", {"America/Managua"}},
    {"NL", {"Europe/Amsterdam"}},
    {"NO", {"Europe/Oslo"}},
    {"NP", {"Asia/Kathmandu"}},
    {"NR", {"Pacific/Nauru"}},
    {"NU", {"Pacific/Niue"}},
    {"NZ", {"Pacific/Auckland"}},
    {"OM", {"Asia/Muscat"}},
    {"PA", {"America/Panama"}},
    {"PE", {"America/Lima"}},
    {"PH", {"Asia/Manila"}},
    {"PK", {"Asia/Karachi"}},
    {"PL", {"Europe/Warsaw"}},
    {"PM", {"America/Miquelon"}},
    {"PN", {"Pacific/Pitcairn"}},
    {"PR", {"America/Puerto_Rico"}},
    {"PS", {"Asia/Hebron", "Asia/Gaza"}},
    {"PT", {"Europe/Lisbon", "Atlantic/Azores"}},
    {"PW", {"Pacific/Palau"}},
    {"PY", {"America/Asuncion"}},
    {"QA", {"Asia/Qatar"}},
    {"RE", {"Indian/Reunion"}},
    {"RO", {"Europe/Bucharest"}},
    {"RS", {"Europe/Belgrade"}},
    {"RW", {"Africa/Kigali"}},
    {"SA", {"Asia/Riyadh"}},
    {"SB", {"Pacific/Guadalcanal"}},
    {"SC", {"Indian/Mahe"}},
    {"SD", {"Africa/Khartoum"}},
    {"SE", {"Europe/Stockholm"}},
    {"SG", {"Asia/Singapore"}},
    {"SH", {"Atlantic/St_Helena"}},
    {"SI", {"Europe/Ljubljana"}},
    {"SJ", {"Arctic/Longyearbyen"}},
    {"SK", {"Europe/Bratislava"}},
    {"SL", {"Africa/Freetown"}},
    {"SM", {"Europe/San_Marino"}},
    {"SN", {"Africa/Dakar"}},
    {"SO", {"Africa/Mogadishu"}},
    {"SR", {"America/Paramaribo"}},
    {"SS", {"Africa/Juba"}},
    {"ST", {"Africa/Sao_Tome"}},
    {"SV", {"America/El_Salvador"}},
    {"SX", {"America/Lower_Princes"}},
    {"SY", {"Asia/Damascus"}},
    {"SZ", {"Africa/Mbabane"}},
    {"TC", {"America/Grand_Turk"}},
    {"TD", {"Africa/Ndjamena"}},
    {"TF", {"Indian/Kerguelen"}},
    {"TG", {"Africa/Lome"}},
    {"TH", {"Asia/Bangkok"}},
    {"TJ", {"Asia/Dushanbe"}},
    {"TK", {"Pacific/Fakaofo"}},
    {"TL", {"Asia/Dili"}},
    {"TM", {"Asia/Ashgabat"}},
    {"TN", {"Africa/Tunis"}},
    {"TO", {"Pacific/Tongatapu"}},
    {"TR", {"Europe/Istanbul"}},
    {"TT", {"America/Port_of_Spain"}},
    {"TV", {"Pacific/Funafuti"}},
    {"TW", {"Asia/Taipei"}},
    {"TZ", {"Africa/Dar_es_Salaam"}},
    {"UA", {"Europe/Kyiv"}},
    {"UG", {"Africa/Kampala"}},
    {"UY", {"America/Montevideo"}},
    {"UZ", {"Asia/Tashkent"}},
    {"VA", {"Europe/Vatican"}},
    {"VC", {"America/St_Vincent"}},
    {"VE", {"America/Caracas"}},
    {"VG", {"America/Tortola"}},
    {"VI", {"America/St_Thomas"}},
    {"VN", {"Asia/Ho_Chi_Minh"}},
    {"VU", {"Pacific/Efate"}},
    {"WF", {"Pacific/Wallis"}},
    {"WS", {"Pacific/Apia"}},
    {"XK", {"Europe/Belgrade"}},
    {"YE", {"Asia/Aden"}},
    {"YT", {"Indian/Mayotte"}},
    {"ZA", {"Africa/Johannesburg"}},
    {"ZM", {"Africa/Lusaka"}},
    {"ZW", {"Africa/Harare"}},
};

std::vector<std::string> ToVector(const Zones& zones) {
  std::vector<std::string> out;
  for (const char* zone : zones) {
    if (zone != nullptr) out.emplace_back(zone);
  }
  return out;
}

const absl::flat_hash_map<int, Zones>& AreaCodeIndex() {
  static const auto* index = [] {
    auto* map = new absl::flat_hash_map<int, Zones>();
    for (const auto& entry : kAreaCodesByZone) {
      std::istringstream codes(entry.area_codes);
      int code = 0;
      while (codes >> code) map->emplace(code, Zones{entry.zone});
    }
    for (const auto& entry : kSplitAreaCodes) (*map)[entry.area_code] = entry.zones;
    return map;
  }();
  return *index;
}

const absl::flat_hash_map<std::string, Zones>& RegionIndex() {
  static const auto* index = [] {
    auto* map = new absl::flat_hash_map<std::string, Zones>();
    for (const auto& entry : kRegionZones) map->emplace(entry.region, entry.zones);
    return map;
  }();
  return *index;
}

}  // namespace

std::vector<std::string> ZonesForNanpAreaCode(int area_code) {
  const auto& index = AreaCodeIndex();
  auto it = index.find(area_code);
  return it == index.end() ? std::vector<std::string>() : ToVector(it->second);
}

std::vector<std::string> ZonesForRegion(std::string_view region) {
  const auto& index = RegionIndex();
  auto it = index.find(std::string(region));
  return it == index.end() ? std::vector<std::string>() : ToVector(it->second);
}

}  // namespace parley::phone
