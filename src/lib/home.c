#include "home.h"
