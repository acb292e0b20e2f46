# Every third-party dependency, found from Debian 12 packages only (scripts/bootstrap installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Protobuf REQUIRED)
find_package(absl REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(CURL REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(yaml-cpp REQUIRED)

pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
# libpqxx's pkg-config file does not pull in libpq, whose PQconninfoParse validates URLs.
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(OPUS REQUIRED IMPORTED_TARGET opus)
pkg_check_modules(SPEEXDSP REQUIRED IMPORTED_TARGET speexdsp)
pkg_check_modules(SOFIA_SIP REQUIRED IMPORTED_TARGET sofia-sip-ua)
pkg_check_modules(POCKETSPHINX IMPORTED_TARGET pocketsphinx)

find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
find_program(PROTOC protoc REQUIRED)

# grpc++ reflection ships as a separate library without a pkg-config file on Debian 12.
find_library(GRPCPP_REFLECTION grpc++_reflection REQUIRED)
add_library(parley_grpc_deps INTERFACE)
target_link_libraries(parley_grpc_deps INTERFACE PkgConfig::GRPCPP ${GRPCPP_REFLECTION} protobuf::libprotobuf)

# libphonenumber has neither a CMake config nor a pkg-config file on Debian 12.
find_library(PHONENUMBER_LIB phonenumber)
find_path(PHONENUMBER_INCLUDE phonenumbers/phonenumberutil.h)
