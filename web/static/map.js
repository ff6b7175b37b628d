// The interactive maps of the pages, drawn with Leaflet (web/static/vendor/leaflet, copied
// from npm by `make install`). No online tiles: the municipality polygons, read as GeoJSON
// from the application itself, are the base map. Every page shows the same facts without
// this file (the table, the SVG map), so a failure here leaves the page whole.
//
// <div data-map="gaps" data-geojson="..." data-need="..." data-colours='{"unmet": "#..."}'>
//   colours each municipality by the need's state and, on a click, opens its row in the
//   page's table (the element with id "area-<area id>").
// <div data-map="points" data-geojson="..." data-points='[{"lat", "lon", "label"}]'>
//   the outlines in grey with a dot per point (the sites of the results of a search, or
//   of one service), each dot a path of class "map-point".
(function () {
  "use strict";
  if (typeof L === "undefined") { return; }
  var ATTRIBUTION = "© OpenStreetMap contributors, geoBoundaries";

  // The map's section stays hidden until there is a map to show.
  function section(element) { return element.closest(".live") || element; }

  function baseMap(element) {
    section(element).hidden = false;
    var map = L.map(element, { attributionControl: true, zoomSnap: 0.25 });
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution(ATTRIBUTION);
    return map;
  }

  function outlines(element) {
    return fetch(element.dataset.geojson, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  function gaps(element) {
    var colours = JSON.parse(element.dataset.colours || "{}");
    var need = element.dataset.need;
    return outlines(element).then(function (data) {
      var map = baseMap(element);
      var layer = L.geoJSON(data, {
        style: function (feature) {
          var state = feature.properties[need + ":state"] || "none";
          return { color: "#555", weight: 1, fillOpacity: 0.85, fillColor: colours[state] || "#fff" };
        },
        onEachFeature: function (feature, shape) {
          var p = feature.properties;
          var label = p.name + ": " + (p[need + ":state_label"] || "");
          shape.bindTooltip(label, { sticky: true });
          shape.on("click", function () {
            var row = document.getElementById("area-" + feature.id);
            if (row) { location.hash = "area-" + feature.id; row.focus({ preventScroll: true }); }
          });
        }
      }).addTo(map);
      map.fitBounds(layer.getBounds());
      // Each shape names its municipality, as the table's rows do (the paths exist once the
      // map has a view).
      layer.eachLayer(function (shape) {
        var path = shape.getElement && shape.getElement();
        if (path) { path.setAttribute("data-area", shape.feature.id); }
      });
    });
  }

  function points(element) {
    var found = JSON.parse(element.dataset.points || "[]");
    return outlines(element).then(function (data) {
      var map = baseMap(element);
      var base = L.geoJSON(data, {
        style: { color: "#777", weight: 1, fillColor: "#f3f5f7", fillOpacity: 1 },
        onEachFeature: function (feature, shape) { shape.bindTooltip(feature.properties.name); }
      });
      var dots = found.map(function (p) {
        return L.circleMarker([p.lat, p.lon], {
          radius: 7, color: "#fff", weight: 2, fillColor: "#0b5394", fillOpacity: 1,
          className: "map-point"
        }).bindTooltip(p.label);
      });
      var bounds = dots.length ? L.featureGroup(dots).getBounds().pad(0.3) : base.getBounds();
      // The view first: a dot added to a map without one cannot be clipped to it.
      map.fitBounds(bounds, { maxZoom: 11 });
      base.addTo(map);
      dots.forEach(function (dot) { dot.addTo(map); });
    });
  }

  var kinds = { gaps: gaps, points: points };
  document.querySelectorAll("[data-map]").forEach(function (element) {
    var draw = kinds[element.dataset.map];
    if (!draw) { return; }
    // The page stays whole without the map; the console says why it is missing.
    draw(element).catch(function (error) {
      section(element).hidden = true;
      if (window.console) { console.warn("map not drawn:", error); }
    });
  });
})();
