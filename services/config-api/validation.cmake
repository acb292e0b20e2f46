# Included by services/config-api/CMakeLists.txt.
#
# parley_config_validation: spec validation (validate.h) and the references between resources
# (references.h). A library of its own so tests can link the rules without Postgres. Transition
# conditions live in common/graph (parley_graph), shared with the worker's conversation engine.
add_library(parley_config_validation STATIC
  references.cc
  resource_kind.cc
  validate.cc
  validate_graph.cc
  validate_rules.cc
)
target_include_directories(parley_config_validation PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(parley_config_validation
  PUBLIC parley_protos parley_status nlohmann_json::nlohmann_json absl::status absl::statusor
  PRIVATE parley_graph parley_json parley_phone parley_providers absl::strings absl::time)

parley_test(NAME config_validate_test SOURCES validate_test.cc
  LIBS parley_config_validation LABEL unit)
parley_test(NAME config_references_test SOURCES references_test.cc
  LIBS parley_config_validation LABEL unit)

parley_fuzz(NAME config_validate SOURCES fuzz/config_validate_fuzz.cc LIBS parley_config_validation)
