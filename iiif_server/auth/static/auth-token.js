// The access token service's page (IIIF Auth 2.0): post the server's message to the parent frame,
// addressed to the origin the client named, so no other page can read it.
"use strict";
(function () {
  var body = document.body;
  window.parent.postMessage(JSON.parse(body.dataset.message), body.dataset.origin);
})();
