using System.Net;
using System.Net.Http.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using RsMoe.Contracts.V1;
using RsMoe.EndToEnd.Tests.Support;

namespace RsMoe.EndToEnd.Tests;

/// <summary>API keys, rate limits and the internal credential, on the real processes.</summary>
[Collection(SecuredCollection.Name)]
public sealed class AccessTests(SecuredFixture fixture)
{
    Captioner.CaptionerClient Captioner => new(fixture.Gateway);
    static Metadata Key(string key) => new() { { "x-api-key", key } };
    static object AskBody => new { image = Convert.ToBase64String(File.ReadAllBytes(ConstellationFixture.Sample("harbor"))), question = "Is there water?" };

    [Fact]
    public async Task A_missing_or_wrong_key_is_refused_and_a_right_one_accepted_over_rest()
    {
        var missing = await fixture.Http.PostAsJsonAsync("/v1/ask", AskBody);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Contains("API key is required", await missing.Content.ReadAsStringAsync());

        var wrong = new HttpRequestMessage(HttpMethod.Post, "/v1/ask") { Content = JsonContent.Create(AskBody) };
        wrong.Headers.Add("x-api-key", "not-a-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Http.SendAsync(wrong)).StatusCode);

        var right = new HttpRequestMessage(HttpMethod.Post, "/v1/ask") { Content = JsonContent.Create(AskBody) };
        right.Headers.Authorization = new("Bearer", SecuredFixture.UserKey);
        var answered = await fixture.Http.SendAsync(right);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);

        // The page, its health and its metrics stay open.
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task A_missing_or_wrong_key_is_refused_and_a_right_one_accepted_over_grpc()
    {
        var request = new AskRequest { Image = ByteString.CopyFrom(File.ReadAllBytes(ConstellationFixture.Sample("forest"))), Question = "Are there trees?" };
        var missing = await Assert.ThrowsAsync<RpcException>(async () => await Captioner.AskAsync(request));
        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        var wrong = await Assert.ThrowsAsync<RpcException>(async () => await Captioner.AskAsync(request, Key("nope")));
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        Assert.False(string.IsNullOrWhiteSpace((await Captioner.AskAsync(request, Key(SecuredFixture.UserKey))).Answer));
    }

    [Fact]
    public async Task Only_an_operator_key_reaches_the_internal_services_through_the_gateway()
    {
        var expert = new Expert.ExpertClient(fixture.Gateway);
        var user = await Assert.ThrowsAsync<RpcException>(async () =>
            await expert.InfoAsync(new ExpertInfoRequest(), new Metadata { { "x-api-key", SecuredFixture.UserKey }, { "x-rsmoe-expert", "theme" } }));
        Assert.Equal(StatusCode.PermissionDenied, user.StatusCode);
        var info = await expert.InfoAsync(new ExpertInfoRequest(), new Metadata { { "x-api-key", SecuredFixture.OperatorKey }, { "x-rsmoe-expert", "theme" } });
        Assert.Equal("theme", info.Role);
        // The gateway's own operator call too.
        var reload = await Assert.ThrowsAsync<RpcException>(async () =>
            await Captioner.ReloadExpertAsync(new ReloadExpertRequest { Role = "theme" }, Key(SecuredFixture.UserKey)));
        Assert.Equal(StatusCode.PermissionDenied, reload.StatusCode);
        Assert.Equal(1, (await Captioner.ReloadExpertAsync(new ReloadExpertRequest { Role = "theme" }, Key(SecuredFixture.OperatorKey))).Reloaded);
    }

    [Fact]
    public async Task Each_key_has_its_own_rate_limit()
    {
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 12; i++)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, "/v1/experts");
            request.Headers.Add("x-api-key", SecuredFixture.LimitedKey);
            var response = await fixture.Http.SendAsync(request);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.InRange(int.Parse(response.Headers.RetryAfter!.ToString()), 1, 2);   // the next token comes within 1.33 s
                Assert.Contains("rate limit of 45 requests a minute", await response.Content.ReadAsStringAsync());
            }
        }
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.Equal(HttpStatusCode.OK, statuses[0]);
        // Another key is not affected.
        var other = new HttpRequestMessage(HttpMethod.Get, "/v1/experts");
        other.Headers.Add("x-api-key", SecuredFixture.UserKey);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.SendAsync(other)).StatusCode);
    }

    [Fact]
    public async Task An_internal_service_refuses_a_caller_without_the_internal_credential()
    {
        var expert = fixture.Constellation.Service("expert-objects");
        using var direct = GrpcChannel.ForAddress(expert.GrpcAddress);
        var client = new Expert.ExpertClient(direct);
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await client.InfoAsync(new ExpertInfoRequest()));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        var wrong = await Assert.ThrowsAsync<RpcException>(async () => await client.InfoAsync(new ExpertInfoRequest(), new Metadata { { "x-rsmoe-internal", "guess" } }));
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        var info = await client.InfoAsync(new ExpertInfoRequest(), new Metadata { { "x-rsmoe-internal", fixture.Constellation.InternalCredential } });
        Assert.Equal("objects", info.Role);
        // Health stays open for probes.
        var health = await new Grpc.Health.V1.Health.HealthClient(direct).CheckAsync(new Grpc.Health.V1.HealthCheckRequest());
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }

    [Fact]
    public async Task Keys_and_credentials_never_appear_in_logs()
    {
        await A_missing_or_wrong_key_is_refused_and_a_right_one_accepted_over_rest();
        await An_internal_service_refuses_a_caller_without_the_internal_credential();
        foreach (var service in fixture.Constellation.Services)
        {
            using var stream = new FileStream(service.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            string log = await new StreamReader(stream).ReadToEndAsync();
            Assert.DoesNotContain(SecuredFixture.UserKey, log);
            Assert.DoesNotContain(SecuredFixture.OperatorKey, log);
            Assert.DoesNotContain(fixture.Constellation.InternalCredential, log);
        }
    }
}

/// <summary>The web page on a gateway that requires keys: a plain-words refusal, then a caption once the key is entered.</summary>
[Collection(SecuredCollection.Name)]
public sealed class WebPageAccessTests(SecuredFixture fixture) : IAsyncLifetime
{
    readonly HeadlessBrowser _browser = new();

    public Task InitializeAsync() => _browser.StartAsync();

    [Fact]
    public async Task Without_a_key_the_page_says_so_and_with_one_it_captions()
    {
        var page = await _browser.OpenAsync(fixture.Constellation.GatewayUrl + "/", 1280, 900);
        await page.Locator("#image-input").SetInputFilesAsync(ConstellationFixture.Sample("river"));
        await page.Locator("#caption-button").ClickAsync();
        await page.Locator("#error:not([hidden])").WaitForAsync();
        Assert.Contains("needs a valid API key", await page.Locator("#error").TextContentAsync());

        await page.Locator(".access summary").ClickAsync();
        await page.Locator("#api-key").FillAsync(SecuredFixture.UserKey);
        await page.Locator("#api-key").PressAsync("Tab");
        await page.Locator("#caption-button").ClickAsync();
        await page.Locator(".section.done[data-aspect=relationships]").WaitForAsync();
        Assert.True(await page.Locator("#error").IsHiddenAsync());
    }

    public Task DisposeAsync() => _browser.DisposeAsync().AsTask();
}
