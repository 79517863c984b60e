using Microsoft.Playwright;

namespace RsMoe.EndToEnd.Tests.Support;

/// <summary>Debian's chromium, headless, driven by Playwright (no browser download); screenshots under artifacts/screenshots/.</summary>
public sealed class HeadlessBrowser : IAsyncDisposable
{
    IPlaywright? _playwright;
    IBrowser? _browser;

    public static string ScreenshotDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "RsMoe.Micro.sln")))
                    return Directory.CreateDirectory(Path.Combine(dir.FullName, "artifacts", "screenshots")).FullName;
            throw new DirectoryNotFoundException("repository root not found");
        }
    }

    public async Task StartAsync()
    {
        string chromium = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("these tests need Debian's chromium (apt-get install -y chromium; .ci/run installs it)");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
    }

    public async Task<IPage> OpenAsync(string url, int width, int height)
    {
        var page = await _browser!.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        page.SetDefaultTimeout(60_000);
        await page.GotoAsync(url);
        return page;
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
    }
}
