using RsMoe.ServiceDefaults;
using RsMoe.VlmEncoder;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults("vlm-encoder");
builder.AddVlmEncoder();

var app = builder.Build();
app.MapGrpcService<VlmEncoderService>();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
