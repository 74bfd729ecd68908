// Copying a console block copies its commands only, without the "$ " prompts or the
// output, so that what is pasted into a shell runs. The theme's copy button copies the
// data-copy text of the nearest element that has one.
function consoleCommands(text) {
  const commands = [];
  let continued = false;
  for (const line of text.split("\n")) {
    if (continued || line.startsWith("$ ")) {
      commands.push(continued ? line : line.slice(2));
      continued = line.endsWith("\\");
    }
  }
  return commands.join("\n");
}

function markConsoleBlocks() {
  for (const code of document.querySelectorAll("pre > code")) {
    if (code.textContent.startsWith("$ ")) {
      code.parentElement.setAttribute("data-copy", consoleCommands(code.textContent));
    }
  }
}

// document$ is the theme's page-load signal (it also fires on instant navigation).
if (typeof document$ !== "undefined") {
  document$.subscribe(markConsoleBlocks);
} else {
  document.addEventListener("DOMContentLoaded", markConsoleBlocks);
}
