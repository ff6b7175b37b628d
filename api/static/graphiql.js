// GraphiQL on this API's own /graphql, from the copies in ./vendor (no other host is asked
// for anything). Kept out of the page so that its Content-Security-Policy can forbid inline
// script.
(function () {
  "use strict";
  var url = window.location.href.split("?")[0].split("#")[0];
  var fetcher = GraphiQL.createFetcher({ url: url });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      // The Authorization header holds a bearer token: kept for the tab only, never written
      // to the browser's storage.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    }),
  );
})();
