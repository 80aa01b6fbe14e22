package export

import "os"

var osStat = os.Stat
