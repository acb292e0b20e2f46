#include "common/json/struct_convert.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace parley::json {
namespace {

// 2^53: every integer of at most this magnitude is exactly representable as a double.
constexpr double kMaxExactInteger = 9007199254740992.0;

std::string ChildPath(const std::string& path, const std::string& key) {
  return absl::StrCat(path, ".", key);
}

absl::Status ToValue(const nlohmann::json& in, const std::string& path, int depth,
                     google::protobuf::Value* out);

absl::Status ToStruct(const nlohmann::json& in, const std::string& path, int depth,
                      google::protobuf::Struct* out) {
  if (depth > kMaxStructDepth) {
    return InvalidField(path, absl::StrCat("nested deeper than ", kMaxStructDepth, " levels"));
  }
  auto& fields = *out->mutable_fields();
  for (const auto& [key, child] : in.items()) {
    PARLEY_RETURN_IF_ERROR(ToValue(child, ChildPath(path, key), depth, &fields[key]));
  }
  return absl::OkStatus();
}

absl::Status ToValue(const nlohmann::json& in, const std::string& path, int depth,
                     google::protobuf::Value* out) {
  switch (in.type()) {
    case nlohmann::json::value_t::null:
      out->set_null_value(google::protobuf::NULL_VALUE);
      return absl::OkStatus();
    case nlohmann::json::value_t::boolean:
      out->set_bool_value(in.get<bool>());
      return absl::OkStatus();
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      out->set_number_value(in.get<double>());
      return absl::OkStatus();
    case nlohmann::json::value_t::string:
      out->set_string_value(in.get_ref<const std::string&>());
      return absl::OkStatus();
    case nlohmann::json::value_t::object:
      return ToStruct(in, path, depth + 1, out->mutable_struct_value());
    case nlohmann::json::value_t::array: {
      if (depth + 1 > kMaxStructDepth) {
        return InvalidField(path, absl::StrCat("nested deeper than ", kMaxStructDepth, " levels"));
      }
      auto* list = out->mutable_list_value();
      for (size_t i = 0; i < in.size(); ++i) {
        PARLEY_RETURN_IF_ERROR(
            ToValue(in[i], absl::StrCat(path, "[", i, "]"), depth + 1, list->add_values()));
      }
      return absl::OkStatus();
    }
    case nlohmann::json::value_t::binary:
      return InvalidField(path, "binary values cannot be represented");
    case nlohmann::json::value_t::discarded:
      return InvalidField(path, "discarded value (a failed parse) cannot be represented");
  }
  return InvalidField(path, "unsupported JSON type");
}

nlohmann::json NumberToJson(double d) {
  if (!std::isfinite(d)) return nullptr;
  if (std::trunc(d) == d && std::fabs(d) <= kMaxExactInteger) {
    return static_cast<std::int64_t>(d);
  }
  return d;
}

// Whether `value` at `depth` (counted as ToValue counts) round-trips; on failure `*why` says why
// and `*where` is the path below `value` (".a[2]"), built on the way back up.
bool RoundTrips(const google::protobuf::Value& value, int depth, std::string* where,
                std::string* why);

bool StructRoundTrips(const google::protobuf::Struct& value, int depth, std::string* where,
                      std::string* why) {
  if (depth > kMaxStructDepth) {
    *why = absl::StrCat("nested deeper than ", kMaxStructDepth, " levels");
    return false;
  }
  for (const auto& [key, child] : value.fields()) {
    if (!RoundTrips(child, depth, where, why)) {
      *where = absl::StrCat(".", key, *where);
      return false;
    }
  }
  return true;
}

bool RoundTrips(const google::protobuf::Value& value, int depth, std::string* where,
                std::string* why) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNumberValue:
      if (!std::isfinite(value.number_value())) {
        *why = "must be a finite number";
        return false;
      }
      return true;
    case google::protobuf::Value::kStructValue:
      return StructRoundTrips(value.struct_value(), depth + 1, where, why);
    case google::protobuf::Value::kListValue: {
      if (depth + 1 > kMaxStructDepth) {
        *why = absl::StrCat("nested deeper than ", kMaxStructDepth, " levels");
        return false;
      }
      const auto& items = value.list_value().values();
      for (int i = 0; i < items.size(); ++i) {
        if (!RoundTrips(items[i], depth + 1, where, why)) {
          *where = absl::StrCat("[", i, "]", *where);
          return false;
        }
      }
      return true;
    }
    default:
      return true;
  }
}

}  // namespace

absl::Status CheckStructRoundTrips(const google::protobuf::Struct& value, std::string_view field) {
  std::string where;
  std::string why;
  if (StructRoundTrips(value, 1, &where, &why)) return absl::OkStatus();
  return InvalidField(absl::StrCat(AbslView(field), where), why);
}

nlohmann::json StructToJson(const google::protobuf::Struct& value) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, child] : value.fields()) out[key] = ValueToJson(child);
  return out;
}

nlohmann::json ValueToJson(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kNullValue:
    case google::protobuf::Value::KIND_NOT_SET:
      return nullptr;
    case google::protobuf::Value::kNumberValue:
      return NumberToJson(value.number_value());
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kBoolValue:
      return value.bool_value();
    case google::protobuf::Value::kStructValue:
      return StructToJson(value.struct_value());
    case google::protobuf::Value::kListValue: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : value.list_value().values()) out.push_back(ValueToJson(item));
      return out;
    }
  }
  return nullptr;
}

absl::StatusOr<google::protobuf::Struct> JsonToStruct(const nlohmann::json& object,
                                                      std::string_view field) {
  if (!object.is_object()) return InvalidField(field, "must be a JSON object");
  google::protobuf::Struct out;
  PARLEY_RETURN_IF_ERROR(ToStruct(object, std::string(field), 1, &out));
  return out;
}

absl::StatusOr<google::protobuf::Value> JsonToValue(const nlohmann::json& value,
                                                    std::string_view field) {
  google::protobuf::Value out;
  PARLEY_RETURN_IF_ERROR(ToValue(value, std::string(field), 0, &out));
  return out;
}

}  // namespace parley::json
