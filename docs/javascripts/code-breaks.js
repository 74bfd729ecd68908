// Names in a table cell ("binary_cross_entropy", "torch.nn.Linear.weight",
// "--categorical COLUMN") wrap between their parts and at spaces, never inside a word
// or after a hyphen: on a phone the theme would otherwise break them anywhere,
// "cross_entr" over "opy". The copied text is unchanged.
// A break may follow "_", "(", "," or "=" (not before a closing bracket), or a "."
// before a letter (not the point of a number such as 0.004); spaces stay breaks.
const AFTER_A_PART = /(?<=[_(,=])(?=[^\s_(,=)\]])|(?<=\.)(?=[A-Za-z])/;

function breakNamesBetweenParts() {
  for (const code of document.querySelectorAll(".md-typeset td code")) {
    if (code.dataset.nnkitBreaks || code.children.length) {
      continue;
    }
    code.dataset.nnkitBreaks = "1";
    const words = code.textContent.split(/(\s+)/);
    code.textContent = "";
    for (const word of words) {
      if (!word || /^\s+$/.test(word)) {
        code.append(word);
        continue;
      }
      word.split(AFTER_A_PART).forEach((part, index) => {
        if (index > 0) {
          code.append(document.createElement("wbr"));
        }
        const span = document.createElement("span");
        span.className = "nnkit-name-part";
        span.textContent = part;
        code.append(span);
      });
    }
  }
}

// document$ is the theme's page-load signal (it also fires on instant navigation).
if (typeof document$ !== "undefined") {
  document$.subscribe(breakNamesBetweenParts);
} else {
  document.addEventListener("DOMContentLoaded", breakNamesBetweenParts);
}
