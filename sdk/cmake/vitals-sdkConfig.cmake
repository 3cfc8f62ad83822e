# find_package(vitals-sdk) entry point: imports vitals::sdk and defines vitals_add_plugin().
include(${CMAKE_CURRENT_LIST_DIR}/vitals-sdk-targets.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/VitalsPlugin.cmake)
