# parley_test(NAME <name> SOURCES <files...> LIBS <targets...> LABEL unit|pg|redis|e2e [TIMEOUT s])
#
# One GoogleTest binary per test file. The label says what the test needs outside the process:
# `unit` nothing, `pg` the local Postgres, `redis` the local Redis, `e2e` the whole local stack
# (both, plus service binaries). scripts/test starts the infrastructure and exports
# PARLEY_PG_URL / PARLEY_REDIS_URL; tests needing them fail loudly when they are absent.
#
# Each test gets a Redis database of its own: PARLEY_REDIS_URL (redis://host:port from scripts/infra)
# gets /<n> appended, n counted over all tests (scripts/infra starts Redis with 1024 databases).
# Tests run in parallel share one Redis; without this the worker of one test would take the jobs
# another test queued and run them against its own config.
#
# Each label has a target building just its tests (and, through their dependencies, the service
# binaries they start): parley_tests_unit, _pg, _redis, _e2e, _chaos. The sanitizer runs build
# only those they run (scripts/sanitize), not the benchmarks or the chaos suite.
#
# In a PARLEY_SANITIZE=thread build every test also links common/sanitizers/tsan_absl_sync.cc,
# which makes Debian's uninstrumented absl::Mutex visible to ThreadSanitizer.
if(PARLEY_SANITIZE MATCHES "thread" AND NOT TARGET parley_tsan_absl_sync)
  add_library(parley_tsan_absl_sync OBJECT ${PROJECT_SOURCE_DIR}/common/sanitizers/tsan_absl_sync.cc)
  target_link_libraries(parley_tsan_absl_sync PUBLIC absl::synchronization ${CMAKE_DL_LIBS})
endif()

foreach(_label unit pg redis e2e chaos)
  if(NOT TARGET parley_tests_${_label})
    add_custom_target(parley_tests_${_label})
  endif()
endforeach()

function(parley_test)
  cmake_parse_arguments(T "" "NAME;LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(TARGET parley_tsan_absl_sync)
    target_link_libraries(${T_NAME} PRIVATE parley_tsan_absl_sync)
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(TARGET parley_tests_${T_LABEL})
    add_dependencies(parley_tests_${T_LABEL} ${T_NAME})
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(PARLEY_SANITIZE)
    # Sanitized code runs 2-15x slower (TSan the most); the timeouts are for hangs, not speed.
    math(EXPR T_TIMEOUT "${T_TIMEOUT} * 3")
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABEL}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "PARLEY_BUILD_DIR=${CMAKE_BINARY_DIR}")
  parley_test_redis_database(${T_NAME})
endfunction()

# Appends /<n> (a database no other test uses) to the test's PARLEY_REDIS_URL.
function(parley_test_redis_database test)
  get_property(n GLOBAL PROPERTY PARLEY_TEST_REDIS_DB)
  if("${n}" STREQUAL "")
    set(n 1)  # database 0 stays for people's manual runs
  endif()
  if(n GREATER_EQUAL 1024)
    message(FATAL_ERROR "more than 1023 tests: raise REDIS_DATABASES in scripts/infra")
  endif()
  set_property(TEST ${test} PROPERTY ENVIRONMENT_MODIFICATION
    "PARLEY_REDIS_URL=string_append:/${n}")
  math(EXPR n "${n} + 1")
  set_property(GLOBAL PROPERTY PARLEY_TEST_REDIS_DB ${n})
endfunction()
