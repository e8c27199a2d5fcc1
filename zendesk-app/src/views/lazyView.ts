import { h, type FunctionComponent } from "preact";
import { useEffect, useState } from "preact/hooks";

/**
 * A view loaded on first use (its own chunk, outside the first page's gzip budget): renders nothing
 * until the chunk has arrived, then the view. One load per view, shared by every place that shows it.
 */
export function lazyView<P extends object>(load: () => Promise<FunctionComponent<P>>): FunctionComponent<P> {
  let view: FunctionComponent<P> | null = null;
  let loading: Promise<FunctionComponent<P>> | null = null;
  return function LazyView(props: P) {
    const [, setReady] = useState(view !== null);
    useEffect(() => {
      if (view) return;
      let live = true;
      loading ??= load().then((loaded) => (view = loaded));
      void loading.then(() => live && setReady(true));
      return () => {
        live = false;
      };
    }, []);
    return view ? h(view, props) : null;
  };
}
