#include "du.h"
