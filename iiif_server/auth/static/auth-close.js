// The active access service's last page: the client opened it in a window and waits for it to close.
"use strict";
window.close();
