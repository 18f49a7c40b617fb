/* Visit check-in: ask the phone for its location, fill the hidden fields and submit; without a location, show the
   "why no location" field so the CM can still check in with a reason. */
(function () {
  "use strict";
  var form = document.getElementById("checkin-form");
  if (!form) return;
  var button = document.getElementById("checkin-btn");
  var status = document.getElementById("geo-status");
  var reasonBlock = document.getElementById("no-location-block");
  var reason = document.getElementById("id_no_location_reason");
  var lat = form.querySelector("input[name=latitude]");
  var lon = form.querySelector("input[name=longitude]");
  var acc = form.querySelector("input[name=accuracy]");

  function noLocation() {
    reasonBlock.classList.remove("d-none");
    status.textContent = button.dataset.failed;
    button.disabled = false;
    reason.focus();
  }

  form.addEventListener("submit", function (event) {
    if (lat.value && lon.value) return;            // located already
    if (reason.value.trim()) return;               // checking in without a location, with a reason
    event.preventDefault();
    if (!navigator.geolocation) { noLocation(); return; }
    button.disabled = true;
    status.textContent = button.dataset.locating;
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        acc.value = Math.round(pos.coords.accuracy || 0);
        form.submit();
      },
      noLocation,
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 }
    );
  });
})();
