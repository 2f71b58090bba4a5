// flask-static fixture script
document.addEventListener("DOMContentLoaded", () => {
  document.body.dataset.fixture = "flask-static";
});
