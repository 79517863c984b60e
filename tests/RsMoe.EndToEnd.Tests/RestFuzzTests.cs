using System.Net;
using System.Text;
using RsMoe.EndToEnd.Tests.Support;
using Xunit.Abstractions;

namespace RsMoe.EndToEnd.Tests;

/// <summary>Mutated REST bodies (fixed seed) against the real gateway: every one gets an answer, never a 5xx.</summary>
[Collection(ConstellationCollection.Name)]
public sealed class RestFuzzTests(ConstellationFixture fixture, ITestOutputHelper output)
{
    static readonly HttpStatusCode[] Expected =
    [
        HttpStatusCode.OK, HttpStatusCode.BadRequest, HttpStatusCode.RequestEntityTooLarge, HttpStatusCode.UnsupportedMediaType,
        HttpStatusCode.UnprocessableEntity, HttpStatusCode.TooManyRequests,
    ];   // never 503: a malformed body is the caller's fault, not an outage

    [Fact]
    public async Task Mutated_json_and_multipart_bodies_get_problem_details_never_a_server_error()
    {
        var image = File.ReadAllBytes(SharedData.Path("rsscn7", "images", "gParking", "g005.jpg"));
        var json = Encoding.UTF8.GetBytes($$"""{"image":"{{Convert.ToBase64String(image)}}","question":"How many cars are there?"}""");
        var mutator = new Mutator(424242);
        var statuses = new Dictionary<HttpStatusCode, int>();
        const int JsonCount = 800, FormCount = 200;
        for (int i = 0; i < JsonCount + FormCount; i++)
        {
            HttpContent content;
            string path = mutator.Next(2) == 0 ? "/v1/ask" : "/v1/caption";
            if (i < JsonCount)
            {
                content = new ByteArrayContent(mutator.Mutate(json));
                content.Headers.ContentType = new("application/json");
            }
            else
            {
                var form = new MultipartFormDataContent { { new ByteArrayContent(mutator.Mutate(image)), mutator.Next(4) == 0 ? "picture" : "image", "x.jpg" } };
                form.Add(new StringContent("Is there a parking lot?"), "question");
                content = form;
            }
            var response = await fixture.Http.PostAsync(path, content);
            Assert.True(Expected.Contains(response.StatusCode), $"case {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                var body = await response.Content.ReadAsStringAsync();
                Assert.Contains("\"detail\"", body);
                Assert.DoesNotContain("   at ", body);
            }
            statuses[response.StatusCode] = statuses.GetValueOrDefault(response.StatusCode) + 1;
        }
        output.WriteLine($"{JsonCount} JSON + {FormCount} multipart mutated bodies: {string.Join(", ", statuses.Select(s => $"{(int)s.Key} {s.Value}"))}");
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("/healthz")).StatusCode);
    }
}
